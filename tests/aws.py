"""A local Amazon SES: moto's server (its server mode, on loopback), and a proxy in front of it
(pytest-httpserver) that plays what moto does not: an account's send quota, throttling, a
refused recipient, a server quoting the credentials it was sent. Everything else is moto's own
answer, SigV4-signed requests in, SES's documented XML and JSON out."""

from __future__ import annotations

import email
import json
import re
import threading
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from pytest_httpserver import HTTPServer
from sending import free_port
from werkzeug import Request, Response

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SENDER_DOMAIN = "iom.int"  # the test project's From domain (mailer.toml)
SEND_PATH = "/v2/email/outbound-emails"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server mode, in a thread, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def aws_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The credentials of a test account, in the environment where AWS tools read them."""
    environ = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    return environ


def error(status: int, code: str, message: str) -> Response:
    """An SES v2 error answer, as its REST-JSON protocol writes one."""
    return Response(
        json.dumps({"message": message}), status,
        headers={"x-amzn-ErrorType": code}, content_type="application/json",
    )


class LocalSes:
    """moto (reset: a fresh account) behind a proxy on ``server``; :attr:`dsn` reaches it."""

    def __init__(self, moto_url: str, server: HTTPServer, *, rate: float = 1000.0) -> None:
        self.moto_url = moto_url
        requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
        self.rate = rate  # MaxSendRate of the account's quota
        self.deferred: set[str] = set()
        self.refused: set[str] = set()
        self.echo = False
        self.throttle: Callable[[int], bool] = lambda call: False  # by the SendEmail call's number
        self.account_error: tuple[str, str] | None = None  # (code, message) for every send
        self.calls = 0
        self.throttled = 0
        self._lock = threading.Lock()
        self._forward = requests.Session()
        server.expect_request(re.compile("/.*")).respond_with_handler(self._answer)
        self.endpoint = server.url_for("/").rstrip("/")
        self.dsn = f"ses://{REGION}?endpoint={self.endpoint}"

    def client(self, service: str = "sesv2") -> Any:
        """A botocore client straight to moto, to set the account up as its owner would."""
        import botocore.session

        return botocore.session.Session().create_client(
            service, region_name=REGION, endpoint_url=self.moto_url,
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY,
        )

    def verify_sender(self, identity: str = SENDER_DOMAIN) -> None:
        """Verify the sending identity through the API (moto verifies at once)."""
        self.client().create_email_identity(EmailIdentity=identity)

    def sent(self) -> list[Message]:
        """Every raw message moto took, parsed, in the order it took them (from its backend:
        moto runs in this process)."""
        from moto.ses.models import ses_backends

        backend = ses_backends[ACCOUNT][REGION]
        return [email.message_from_string(m.raw_data) for m in backend.sent_messages]

    def raw(self) -> list[bytes]:
        from moto.ses.models import ses_backends

        return [m.raw_data.encode() for m in ses_backends[ACCOUNT][REGION].sent_messages]

    def received(self) -> list[str]:
        return [str(message["To"]).rpartition("<")[2].rstrip(">") for message in self.sent()]

    def _answer(self, request: Request) -> Response:
        if request.path == SEND_PATH:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        elif parse_qs(request.get_data(as_text=True)).get("Action") == ["GetSendQuota"]:
            return self._quota()
        return self._pass_on(request)

    def _refusal(self, request: Request) -> Response | None:
        recipient = json.loads(request.get_data())["Destination"]["ToAddresses"][0]
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.echo:
            quoted = " ".join(
                str(request.headers.get(name)) for name in ("Authorization", "X-Amz-Security-Token")
            )
            return error(503, "ServiceUnavailable", f"upstream refused {quoted}")
        if self.account_error is not None:
            return error(400, *self.account_error)
        if recipient in self.deferred or self.throttle(call):
            with self._lock:
                self.throttled += 1
            return error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        if recipient in self.refused:
            return error(400, "BadRequestException", f"Illegal address: {recipient}")
        return None

    def _quota(self) -> Response:
        return Response(
            '<GetSendQuotaResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
            "<GetSendQuotaResult><SentLast24Hours>0.0</SentLast24Hours>"
            f"<Max24HourSend>1000000.0</Max24HourSend><MaxSendRate>{self.rate}</MaxSendRate>"
            "</GetSendQuotaResult><ResponseMetadata><RequestId>quota-1</RequestId>"
            "</ResponseMetadata></GetSendQuotaResponse>",
            200, content_type="text/xml",
        )

    def _pass_on(self, request: Request) -> Response:
        headers = {
            name: value for name, value in request.headers.items()
            if name.lower() not in ("host", "content-length")
        }
        answer = self._forward.request(
            request.method, self.moto_url + request.full_path.rstrip("?"),
            data=request.get_data(), headers=headers, timeout=30,
        )
        kept = {
            name: value for name, value in answer.headers.items()
            if name.lower() not in ("content-length", "transfer-encoding", "connection",
                                    "content-encoding")
        }
        return Response(answer.content, answer.status_code, headers=kept)
