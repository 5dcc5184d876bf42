"""``ses://``: ``mailer send`` through Amazon SES as moto's server plays it (with a layer in front
for the account's quota, throttling and refusals: tests/local_ses.py). The shared transport cases
run in tests/test_transport_contract.py."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import dkim
import pytest
from aws import KEY_ID, SECRET_KEY, LocalSes, aws_environment
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from projects import mailer
from pytest_httpserver import HTTPServer
from sending import make_project, write_subscribers

from mailer.delivery.ledger import Ledger
from mailer.delivery.transports import parse_transport
from mailer.doctor import transport as doctor_transport
from mailer.errors import MailerError, TransportError, UsageError

SELECTOR = "news2026"


@pytest.fixture
def ses(local_ses_url: str, monkeypatch: pytest.MonkeyPatch) -> LocalSes:
    aws_environment(monkeypatch)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "u" * 40)
    return LocalSes(local_ses_url)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes]:
    """A project that signs its messages with DKIM: (the issue, the key's DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ))
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("MAILER_DKIM_KEY_FILE", str(key_file))
    monkeypatch.setenv("MAILER_DKIM_SELECTOR", SELECTOR)
    issue = make_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    return issue, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def send(issue: Path, ses: LocalSes, readers: int, *extra: str) -> tuple[int, str]:
    write_subscribers(issue.parents[1] / "subscribers.example.csv", readers)
    return mailer("send", issue, "--transport", ses.dsn, "--yes", *extra)


def assert_as_built(raw: bytes, record: bytes) -> None:
    """The message SES got is the one mailer built: its DKIM signature still verifies, and
    it carries our one-click List-Unsubscribe."""
    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name.startswith(f"{SELECTOR}._domainkey.".encode()) else b""

    assert raw.startswith(b"DKIM-Signature: ")
    assert dkim.verify(raw, dnsfunc=dns)
    assert b"\nList-Unsubscribe: <https://" in raw.replace(b"\r\n", b"\n")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_everyone_gets_the_message_mailer_built_once_and_throttling_waits(ses, project) -> None:
    issue, record = project
    ses.verify_sender()
    ses.rules(throttle_every=8)  # SES's "Maximum sending rate exceeded." to the 8th call
    code, out = send(issue, ses, 8)
    assert code == 0, out
    assert "8 sent, 0 failed, 0 waiting, of 8" in out
    assert ses.state()["throttled"] == 1
    received = ses.received()
    assert sorted(received) == sorted(f"reader{n}@example.org" for n in range(8))  # once each
    for raw in ses.raw():
        assert_as_built(raw, record)


def test_the_account_s_send_rate_is_kept_without_rate(ses, project) -> None:
    issue, _ = project
    ses.verify_sender()
    ses.rules(rate=5.0)
    code, out = send(issue, ses, 11)
    assert code == 0, out
    stamps = ses.state()["stamps"]
    # Eleven messages at five a second: the last is booked two seconds after the first five
    # (which take a fraction of that to build and send); without the rate, all in a moment.
    assert stamps[-1] - stamps[0] >= 1.5


def test_an_unverified_sender_stops_the_send_with_ses_s_words_and_fails_nobody(
    ses, project
) -> None:
    issue, _ = project  # the From identity was never verified: moto refuses, as SES does
    code, out = send(issue, ses, 5)
    assert code == 2, out
    assert "Error: Amazon SES (HTTP 400): MessageRejected: Did not have authority to send from " \
        "email newsletter@iom.int" in " ".join(out.split())
    with Ledger(issue.parents[1] / ".mailer" / "ledger.sqlite3") as ledger:
        counts = ledger.counts("send-test")
    assert (counts.sent, counts.failed, counts.queued) == (0, 0, 5)


def test_a_sandbox_refusal_stops_the_send_and_the_same_send_resumes(ses, project) -> None:
    issue, _ = project
    ses.verify_sender()
    ses.rules(account_error=["MessageRejected", (
        "Email address is not verified. The following identities failed the check in region "
        "EU-CENTRAL-1: reader0@example.org"
    )])
    code, out = send(issue, ses, 4)
    assert code == 2, out
    assert "following identities failed the check" in out
    assert ses.received() == []
    ses.rules(account_error=None)  # out of the sandbox
    code, out = send(issue, ses, 4)
    assert code == 0, out
    assert sorted(ses.received()) == [f"reader{n}@example.org" for n in range(4)]


def test_a_used_up_daily_quota_stops_the_send_unfinished_and_fails_nobody(ses, project) -> None:
    issue, _ = project
    ses.verify_sender()
    ses.rules(account_error=["LimitExceededException", "Daily message quota exceeded."])
    code, out = send(issue, ses, 3)
    assert code == 3, out
    assert "Daily message quota exceeded" in out and "run the same send again later" in out
    with Ledger(issue.parents[1] / ".mailer" / "ledger.sqlite3") as ledger:
        counts = ledger.counts("send-test")
    assert (counts.sent, counts.failed) == (0, 0)


def test_a_send_names_the_aws_variables_it_lacks_before_it_connects(
    ses, project, monkeypatch
) -> None:
    issue, _ = project
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out = send(issue, ses, 3)
    assert code == 2, out
    assert "AWS_ACCESS_KEY_ID" in out and "AWS_SECRET_ACCESS_KEY" in out
    assert ses.state()["calls"] == 0


def test_the_quota_gives_the_rate_and_a_refused_key_stops_the_send(ses, project) -> None:
    issue, _ = project
    ses.verify_sender()
    transport = parse_transport(ses.dsn, Path("."))()
    try:
        transport.verify()
        assert transport.send_rate == 1000.0  # the quota's MaxSendRate
    finally:
        transport.close()
    ses.rules(account_error=["UnrecognizedClientException", "The security token included in "
                             "the request is invalid."])
    code, out = send(issue, ses, 3)
    assert code == 2 and "The security token included in the request is invalid" in out
    assert SECRET_KEY not in out


@pytest.mark.parametrize(("endpoint", "says"), [
    ("https://email.example.org:99999", "has no host and port"),
    ("https://:443", "has no host and port"),
    ("http://email.example.org", "plain http only to this machine"),
])
def test_an_endpoint_that_cannot_carry_signed_requests_is_refused(
    endpoint: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_environment(monkeypatch)
    with pytest.raises(UsageError, match=says):
        parse_transport(f"ses://eu-central-1?endpoint={endpoint}", Path("."),
                        {"AWS_SECRET_ACCESS_KEY": SECRET_KEY})()


def test_an_answer_that_is_not_ses_is_one_error_and_a_redirect_is_not_followed(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's page, or a redirect elsewhere (which would carry the signed headers, a
    temporary key's token among them): neither is taken for SES's answer."""
    aws_environment(monkeypatch)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    dsn = f"ses://eu-central-1?endpoint={httpserver.url_for('').rstrip('/')}"
    httpserver.expect_request("/", method="POST").respond_with_data(
        "<html><body>Sign in to the proxy</body></html>", content_type="text/html")
    transport = parse_transport(dsn, Path("."), {"AWS_SECRET_ACCESS_KEY": SECRET_KEY})()
    try:
        with pytest.raises(TransportError, match="is not SES's XML"):
            transport.verify()
        httpserver.clear()
        elsewhere = httpserver.url_for("/elsewhere")
        httpserver.expect_request("/", method="POST").respond_with_data(
            "", status=307, headers={"Location": elsewhere})
        with pytest.raises(MailerError):
            transport.verify()
    finally:
        transport.close()
    assert [request.path for request, _ in httpserver.log] == ["/"]  # never /elsewhere


def test_a_region_must_be_written_alone() -> None:
    with pytest.raises(UsageError, match="AWS region alone"):
        parse_transport("ses://eu-central-1/x", Path("."), {"AWS_SECRET_ACCESS_KEY": "k" * 20})()
    with pytest.raises(UsageError, match="unknown option"):
        parse_transport("ses://eu-central-1?set=x", Path("."))


@pytest.mark.slow
def test_three_thousand_readers_once_each_through_throttling(ses, project) -> None:
    issue, record = project
    ses.verify_sender()
    ses.rules(throttle_every=500)
    code, out = send(issue, ses, 3000)
    assert code == 0, out
    assert "3,000 sent, 0 failed, 0 waiting, of 3,000" in out
    state = ses.state()
    assert state["throttled"] >= 6
    taken = [data.encode() for data in state["raw"]]
    received = ses.received(taken)
    assert len(received) == 3000 and len(set(received)) == 3000
    for n, raw in enumerate(taken):
        if n % 100 == 0:
            assert_as_built(raw, record)
        else:
            assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_doctor_checks_that_the_configuration_set_publishes_to_a_listed_topic(ses) -> None:
    topic = "arn:aws:sns:eu-central-1:123456789012:newsletter-feedback"
    v1 = ses.client("ses")
    v1.create_configuration_set(ConfigurationSet={"Name": "newsletter"})
    v1.create_configuration_set_event_destination(
        ConfigurationSetName="newsletter", EventDestination={
            "Name": "feedback", "Enabled": True, "MatchingEventTypes": ["bounce", "complaint"],
            "SNSDestination": {"TopicARN": topic},
        },
    )
    dsn = f"{ses.dsn}&configuration_set=newsletter"
    found = doctor_transport.check(dsn, Path("."), os.environ, offline=False, topics=[topic])
    assert [f.severity for f in found] == ["ok", "ok"]
    assert f"publishes bounces and complaints to {topic}" in found[1].message
    other = "arn:aws:sns:eu-central-1:123456789012:another"
    found = doctor_transport.check(dsn, Path("."), os.environ, offline=False, topics=[other])
    assert found[1].severity == "error" and topic in found[1].message


def test_temporary_credentials_send_their_session_token(ses, project, monkeypatch) -> None:
    issue, _ = project
    ses.verify_sender()
    token = "FwoGZXIvYXdzEXAMPLEsessionTOKEN0123456789"
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    code, out = send(issue, ses, 2)
    assert code == 0, out
    assert ses.state()["signed_with"] == {"key": KEY_ID, "token": token}


def test_a_profile_s_keys_sign_without_the_variables(ses, project, monkeypatch, tmp_path) -> None:
    issue, _ = project
    ses.verify_sender()
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[newsletter]\naws_access_key_id = AKIAPROFILEEXAMPLE01\n"
        "aws_secret_access_key = profile-secret-0123456789abcdefghij\n", encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    write_subscribers(issue.parents[1] / "subscribers.example.csv", 2)
    code, out = mailer("send", issue, "--transport", f"{ses.dsn}&profile=newsletter", "--yes")
    assert code == 0, out
    assert ses.state()["signed_with"] == {"key": "AKIAPROFILEEXAMPLE01", "token": None}
    code, out = mailer("send", issue, "--transport", f"{ses.dsn}&profile=other", "--yes")
    assert code == 2 and "The config profile (other) could not be found" in out, out


def test_a_configuration_set_is_named_in_each_send_and_must_exist(ses, project) -> None:
    issue, _ = project
    ses.verify_sender()
    ses.client("ses").create_configuration_set(ConfigurationSet={"Name": "newsletter"})
    write_subscribers(issue.parents[1] / "subscribers.example.csv", 2)
    code, out = mailer("send", issue, "--transport", f"{ses.dsn}&configuration_set=other", "--yes")
    assert code == 2 and "other" in out, out  # verify() asked for it before anything was sent
    assert ses.state()["calls"] == 0
    code, out = mailer("send", issue, "--transport", f"{ses.dsn}&configuration_set=newsletter",
                       "--yes")
    assert code == 0, out
    assert sorted(ses.received()) == ["reader0@example.org", "reader1@example.org"]
    assert ses.state()["configuration_set"] == "newsletter"
