"""A local Amazon SES in its own process: moto's server app (moto's server mode), behind a thin
WSGI layer that plays what moto does not: the account's send quota, throttling, a refused
recipient, an account refusal, a server quoting the credentials it was sent. Everything else is
moto's own answer: SigV4-signed requests in, SES's documented XML and JSON out.

Run as ``python tests/local_ses.py PORT``; the tests drive the layer over HTTP (tests/aws.py):
``POST /_rules`` sets the rules (JSON), ``GET /_sent`` lists what moto's backend took (and the
key id, session token and configuration set of the last ``SendEmail``), ``POST /_reset`` forgets
everything (moto's state too). Its own process: the sender under test and
this server do not share an interpreter lock, so thousands of sends stay cheap.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, create_backend_app
from waitress.server import create_server
from werkzeug import Request, Response

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-central-1"
SEND_PATH = "/v2/email/outbound-emails"
DEFAULT_RULES: dict[str, Any] = {
    "rate": 1000.0,  # MaxSendRate of the account's quota
    "deferred": [],  # recipients answered "Maximum sending rate exceeded."
    "refused": [],  # recipients answered BadRequestException
    "throttle_every": 0,  # every n-th SendEmail call is throttled (0: none)
    "account_error": None,  # [code, message] for every SendEmail call
    "account_error_after": 0,  # ... only once this many SendEmail calls were answered
    "echo": False,  # every SendEmail answered 503, quoting the request's credentials
    # False: a SendEmail the layer lets through is answered as SES does (a MessageId) without
    # moto keeping the message (a benchmark's million would fill its memory); counted only.
    "keep": True,
}


class Layer:
    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.rules = dict(DEFAULT_RULES)
        self.calls = 0
        self.throttled = 0
        self.stamps: list[float] = []  # when each SendEmail call arrived
        self.signed_with: dict[str, str | None] = {}  # the last call's key id and session token
        self.configuration_set: str | None = None  # the last call's ConfigurationSetName
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == SEND_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self._send_email(environ, start_response)
        request = Request(environ)
        if request.path == "/_rules":
            self.rules.update(json.loads(request.get_data()))
            return Response("{}")(environ, start_response)
        if request.path == "/_reset":
            self._reset()
            return Response("{}")(environ, start_response)
        if request.path == "/_sent":
            return self._sent()(environ, start_response)
        if request.method == "POST" and request.path == "/":
            body = request.get_data()
            environ["wsgi.input"] = _Replay(body)
            if parse_qs(body.decode()).get("Action") == ["GetSendQuota"]:
                return self._quota()(environ, start_response)
        return self.moto(environ, start_response)

    def _send_email(self, environ: dict[str, Any], start_response: Any) -> Any:
        """SES v2 ``SendEmail``, read straight from the WSGI environment: the layer's rules,
        then moto (``keep``) or the layer's own answer. Without werkzeug's request and response
        objects, which cost as much as the rest of a call: a benchmark makes a million."""
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        refusal = self._refusal(environ, json.loads(body))
        if refusal is not None:
            return refusal(environ, start_response)
        if self.rules["keep"]:
            environ["wsgi.input"] = _Replay(body)
            return self.moto(environ, start_response)
        answer = b'{"MessageId": "local-%d"}' % self.calls
        start_response("200 OK", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(answer))),
            ("x-amzn-RequestId", "local"),
        ])
        return [answer]

    def _reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        with self.lock:
            self.rules = dict(DEFAULT_RULES)
            self.calls = self.throttled = 0
            self.stamps = []
            self.signed_with = {}
            self.configuration_set = None

    def _sent(self) -> Response:
        from moto.ses.models import ses_backends

        messages = ses_backends[ACCOUNT][REGION].sent_messages
        return Response(json.dumps({
            "raw": [m.raw_data for m in messages], "calls": self.calls,
            "throttled": self.throttled, "stamps": self.stamps, "signed_with": self.signed_with,
            "configuration_set": self.configuration_set,
        }), content_type="application/json")

    def _refusal(self, environ: dict[str, Any], body: dict[str, Any]) -> Response | None:
        """An answer other than "sent" to a SendEmail call (``body``), as the rules say; a
        call without a recipient or a raw message is refused as SES refuses it."""
        recipients = body.get("Destination", {}).get("ToAddresses") or []
        if not recipients or not body.get("Content", {}).get("Raw", {}).get("Data"):
            return error(400, "BadRequestException", "Missing required destination or content")
        recipient = recipients[0]
        rules = self.rules
        credential = str(environ.get("HTTP_AUTHORIZATION")).partition("Credential=")[2]
        with self.lock:
            self.calls += 1
            call = self.calls
            self.stamps.append(time.time())
            self.signed_with = {"key": credential.partition("/")[0],
                                "token": environ.get("HTTP_X_AMZ_SECURITY_TOKEN")}
            self.configuration_set = body.get("ConfigurationSetName")
        if rules["echo"]:
            headers = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_SECURITY_TOKEN")
            quoted = " ".join(str(environ.get(name)) for name in headers)
            return error(503, "ServiceUnavailable", f"upstream refused {quoted}")
        if rules["account_error"] and call > rules["account_error_after"]:
            return error(400, *rules["account_error"])
        every = rules["throttle_every"]
        if recipient in rules["deferred"] or (every and call % every == 0):
            with self.lock:
                self.throttled += 1
            return error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        if recipient in rules["refused"]:
            return error(400, "BadRequestException", f"Illegal address: {recipient}")
        return None

    def _quota(self) -> Response:
        return Response(
            '<GetSendQuotaResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
            "<GetSendQuotaResult><SentLast24Hours>0.0</SentLast24Hours>"
            "<Max24HourSend>1000000.0</Max24HourSend>"
            f"<MaxSendRate>{self.rules['rate']}</MaxSendRate>"
            "</GetSendQuotaResult><ResponseMetadata><RequestId>quota-1</RequestId>"
            "</ResponseMetadata></GetSendQuotaResponse>",
            200, content_type="text/xml",
        )


class _Replay:
    """A request body read once by the layer, read again by moto."""

    def __init__(self, data: bytes) -> None:
        import io

        self._stream = io.BytesIO(data)

    def read(self, *size: int) -> bytes:
        return self._stream.read(*size)

    def readline(self, *size: int) -> bytes:
        return self._stream.readline(*size)


def error(status: int, code: str, message: str) -> Response:
    """An SES v2 error answer, as its REST-JSON protocol writes one."""
    return Response(
        json.dumps({"message": message}), status,
        headers={"x-amzn-ErrorType": code}, content_type="application/json",
    )


if __name__ == "__main__":
    # waitress rather than werkzeug's development server: with SendEmail read straight from the
    # environment, 0.6 ms of CPU a call instead of 1 ms (a benchmark makes a million).
    server = create_server(Layer(), host="127.0.0.1", port=int(sys.argv[1]), threads=4)
    print("ready", flush=True)
    server.run()
