"""A local Amazon SES for the tests: tests/local_ses.py (moto's server app with a thin layer
that plays the account's quota, throttling and refusals) in its own process, started once a
session, and :class:`LocalSes` to set it up and read back what it took."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
import requests
from sending import free_port

REGION = "eu-central-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SENDER_DOMAIN = "iom.int"  # the test project's From domain (mailer.toml)


@pytest.fixture(scope="session")
def local_ses_url() -> Iterator[str]:
    """tests/local_ses.py on a free port, for the whole session."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("local_ses.py")), str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def aws_environment(monkeypatch: pytest.MonkeyPatch, secret: str = SECRET_KEY) -> dict[str, str]:
    """The credentials of a test account, in the environment where AWS tools read them (and
    no credentials file or profile of the machine's)."""
    environ = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": secret}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    return environ


class LocalSes:
    """The local SES, reset (a fresh account, no rules); :attr:`dsn` reaches it."""

    def __init__(self, url: str) -> None:
        self.url = url
        requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        self._post("/_reset", {})
        self.dsn = f"ses://{REGION}?endpoint={url}"

    def rules(self, **rules: Any) -> None:
        """Change how the layer answers (see local_ses.DEFAULT_RULES)."""
        self._post("/_rules", rules)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        requests.post(self.url + path, json=body, timeout=10).raise_for_status()

    def client(self, service: str = "sesv2") -> Any:
        """A botocore client, to set the account up as its owner would."""
        import botocore.session

        return botocore.session.Session().create_client(
            service, region_name=REGION, endpoint_url=self.url,
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY,
        )

    def verify_sender(self, identity: str = SENDER_DOMAIN) -> None:
        """Verify the sending identity through the API (moto verifies at once)."""
        self.client().create_email_identity(EmailIdentity=identity)

    def state(self) -> dict[str, Any]:
        """What moto's backend took (``raw``), the SendEmail calls made, those throttled, and
        when each arrived (``stamps``)."""
        answer = requests.get(f"{self.url}/_sent", timeout=30)
        answer.raise_for_status()
        return answer.json()

    def raw(self) -> list[bytes]:
        """Every raw message moto took, in the order it took them."""
        return [data.encode() for data in self.state()["raw"]]

    def received(self, raw: list[bytes] | None = None) -> list[str]:
        """The recipient (To) of each message moto took, or of ``raw`` (its :meth:`raw`)."""
        parser = BytesHeaderParser()
        return [
            str(parser.parsebytes(data)["To"]).rpartition("<")[2].rstrip(">")
            for data in (self.raw() if raw is None else raw)
        ]
