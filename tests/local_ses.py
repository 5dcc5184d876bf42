"""A local Amazon SES in its own process: moto's server app (moto's server mode), behind a thin
WSGI layer that plays what moto does not: the account's send quota, throttling, a refused
recipient, an account refusal, a server quoting the credentials it was sent. Everything else is
moto's own answer: SigV4-signed requests in, SES's documented XML and JSON out.

Run as ``python tests/local_ses.py PORT``; the tests drive the layer over HTTP (tests/aws.py):
``POST /_rules`` sets the rules (JSON), ``GET /_sent`` lists what moto's backend took, ``POST
/_reset`` forgets everything (moto's state too). Its own process: the sender under test and
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
from werkzeug import Request, Response
from werkzeug.serving import make_server

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
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/_rules":
            self.rules.update(json.loads(request.get_data()))
            return Response("{}")(environ, start_response)
        if request.path == "/_reset":
            self._reset()
            return Response("{}")(environ, start_response)
        if request.path == "/_sent":
            return self._sent()(environ, start_response)
        if request.path == SEND_PATH:
            body = request.get_data()
            environ["wsgi.input"] = _Replay(body)
            refusal = self._refusal(request, json.loads(body))
            if refusal is not None:
                return refusal(environ, start_response)
            if not self.rules["keep"]:
                answer = json.dumps({"MessageId": f"local-{self.calls}"})
                return Response(answer, content_type="application/json")(environ, start_response)
        elif request.method == "POST" and request.path == "/":
            body = request.get_data()
            environ["wsgi.input"] = _Replay(body)
            if parse_qs(body.decode()).get("Action") == ["GetSendQuota"]:
                return self._quota()(environ, start_response)
        return self.moto(environ, start_response)

    def _reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        with self.lock:
            self.rules = dict(DEFAULT_RULES)
            self.calls = self.throttled = 0
            self.stamps = []

    def _sent(self) -> Response:
        from moto.ses.models import ses_backends

        messages = ses_backends[ACCOUNT][REGION].sent_messages
        return Response(json.dumps({
            "raw": [m.raw_data for m in messages], "calls": self.calls,
            "throttled": self.throttled, "stamps": self.stamps,
        }), content_type="application/json")

    def _refusal(self, request: Request, body: dict[str, Any]) -> Response | None:
        recipient = body["Destination"]["ToAddresses"][0]
        rules = self.rules
        with self.lock:
            self.calls += 1
            call = self.calls
            self.stamps.append(time.time())
        if rules["echo"]:
            quoted = " ".join(
                str(request.headers.get(name)) for name in ("Authorization", "X-Amz-Security-Token")
            )
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
    server = make_server("127.0.0.1", int(sys.argv[1]), Layer(), threaded=True)
    print("ready", flush=True)
    server.serve_forever()
