"""``/webhooks/ses``: Amazon SES's notifications as SNS posts them (tests/fixtures/webhooks/ses),
signed for real with a key pair and a self-signed certificate made here. The one thing replaced
is the function that fetches from SNS's host (the certificate, the subscription's URL): there
is no internet, and AWS's key is AWS's."""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sending import free_port, make_project
from webhook_requests import fixture

from mailer.audience.store import SuppressionStore
from mailer.delivery.message_ids import message_id_for
from mailer.feedback.webhooks import Unverified
from mailer.feedback.webhooks import ses as ses_module
from mailer.feedback.webhooks.ses import SesWebhook, canonical
from mailer.settings import settings_for
from mailer.web.app import create_app

TOPIC = "arn:aws:sns:eu-central-1:123456789012:newsletter-feedback"
CERT_URL = (
    "https://sns.eu-central-1.amazonaws.com/"
    "SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem"
)
SUBSCRIBE_URL = (
    "https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    f"{TOPIC}&Token=2336412f37"
)


class Signer:
    """A key pair and a self-signed certificate standing in for SNS's."""

    def __init__(self, key_size: int = 2048) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.datetime.now(datetime.UTC)
        self.pem = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )

    def sign(self, message: dict[str, str], version: str = "1") -> bytes:
        """``message`` with SignatureVersion, SigningCertURL and Signature, as SNS posts it."""
        message = {**message, "SignatureVersion": version}
        message.setdefault("SigningCertURL", CERT_URL)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(canonical(message), padding.PKCS1v15(), digest)
        message["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(message, indent=2).encode()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture
def fetched(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """SNS's host as the test plays it: the certificate, and a confirmed subscription. Lists
    each URL fetched."""
    urls: list[str] = []

    def sns_get(url: str) -> bytes:
        urls.append(url)
        if url == CERT_URL:
            return signer.pem
        assert url == SUBSCRIBE_URL
        return b"<ConfirmSubscriptionResponse/>"

    monkeypatch.setattr(ses_module, "sns_get", sns_get)
    return urls


def sns_time(ago: float = 0) -> str:
    """A time ``ago`` seconds back, written as SNS writes its Timestamp."""
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification(body: bytes, topic: str = TOPIC, **fields: str) -> dict[str, str]:
    """An SNS notification carrying the SES notification ``body``, as SNS's docs show it."""
    return {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic,
        "Message": body.decode(), "Timestamp": sns_time(),
        "UnsubscribeURL": "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&"
                          f"SubscriptionArn={topic}:c9135db0-26c4-47ec-8998-413945fb5a96",
        **fields,
    }


def confirmation(topic: str = TOPIC) -> dict[str, str]:
    return {
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "2336412f37",
        "TopicArn": topic, "Message": f"You have chosen to subscribe to the topic {topic}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": SUBSCRIBE_URL, "Timestamp": sns_time(),
    }


def webhook() -> SesWebhook:
    return SesWebhook([TOPIC])


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_permanent_bounce_suppresses_its_recipient(signer, fetched, version) -> None:
    ours = message_id_for("2026-12-appeal", "jane@example.com", "iom.int")
    body = fixture("ses", "bounce").replace(b"custom-message-ID", ours.encode())
    signed = signer.sign(notification(body), version)
    parsed = webhook().handle({}, signed, time.time())
    (event,) = parsed.events
    assert (event.kind, event.address, event.issue_id) == (
        "bounced", "jane@example.com", "2026-12-appeal")
    assert event.detail == "smtp; 550 5.1.1 <jane@example.com>... User"
    assert json.loads(event.raw) == json.loads(signed)  # the signed notification, as evidence
    assert parsed.replay_key == f"sns:{json.loads(signed)['MessageId']}"
    assert fetched == [CERT_URL]


def test_complaints_transient_bounces_and_deliveries(signer, fetched) -> None:
    provider = webhook()
    now = time.time()
    complaint = provider.handle({}, signer.sign(notification(fixture("ses", "complaint"))), now)
    assert [(e.kind, e.address) for e in complaint.events] == [
        ("complained", "richard@example.com")]
    transient = fixture("ses", "bounce").replace(b'"Permanent"', b'"Transient"')
    soft = provider.handle({}, signer.sign(notification(transient), "2"), time.time())
    assert [(e.kind, e.address) for e in soft.events] == [("soft_bounce", "jane@example.com")]
    delivery = provider.handle({}, signer.sign(notification(fixture("ses", "delivery"))), now)
    assert (delivery.events, delivery.ignored) == ([], 1)
    assert fetched == [CERT_URL]  # fetched once, then cached


def test_a_subscription_is_confirmed_for_a_listed_topic_only(signer, fetched) -> None:
    parsed = webhook().handle({}, signer.sign(confirmation()), time.time())
    assert parsed.events == [] and fetched == [CERT_URL, SUBSCRIBE_URL]
    other = "arn:aws:sns:eu-central-1:210987654321:someone-else"
    with pytest.raises(Unverified) as refusal:
        webhook().handle({}, signer.sign(confirmation(other)), time.time())
    assert refusal.value.status == 403 and fetched == [CERT_URL, SUBSCRIBE_URL]


def wrong_requests(signer: Signer) -> Iterator[tuple[str, bytes]]:
    body = fixture("ses", "complaint")
    good = json.loads(signer.sign(notification(body)))
    tampered = {**good, "Message": good["Message"].replace("richard", "rich")}
    yield "a wrong signature", json.dumps(tampered).encode()
    other = Signer(1024)  # another key, the certificate still SNS's: the signature fails
    yield "another key", other.sign(notification(body))
    for url in (
        "https://sns.eu-central-1.amazonaws.com.example.org/cert.pem",
        "https://example.org/sns.eu-central-1.amazonaws.com/cert.pem",
        "http://sns.eu-central-1.amazonaws.com/cert.pem",
        "https://sns.eu-central-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.eu-central-1.amazonaws.com/cert.pem",
    ):
        yield f"a certificate at {url}", signer.sign(notification(body, SigningCertURL=url))
    unlisted = "arn:aws:sns:eu-central-1:210987654321:someone-else"
    yield "an unlisted topic", signer.sign(notification(body, unlisted))
    yield "signature version 3", signer.sign(notification(body), "3")
    # Signed by SNS, but captured: older than SNS retries a delivery (an hour), the replay
    # keys are gone, so the time it was signed with refuses it.
    yield "an hour and a minute old", signer.sign(notification(body, Timestamp=sns_time(3660)))
    yield "from ten minutes ahead", signer.sign(notification(body, Timestamp=sns_time(-600)))


def test_what_is_not_signed_by_sns_for_a_listed_topic_is_refused_unread(signer, fetched) -> None:
    for what, body in wrong_requests(signer):
        provider = webhook()

        def parse(body: bytes) -> None:
            raise AssertionError("a refused request was read")

        provider.parse = parse  # type: ignore[method-assign]
        with pytest.raises(Unverified) as refusal:
            provider.handle({}, body, time.time())
        assert refusal.value.status == 403, what
    assert set(fetched) == {CERT_URL}  # no other host was ever asked


def test_a_certificate_sns_cannot_give_now_is_a_502_sns_will_retry(
    signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate fetched for real, from a host that does not answer (the test only points
    SNS's URL at a closed port on this machine): a one-line 5xx, so SNS sends it again."""
    import requests

    real_get = requests.get

    def closed_port(url: str, **options: object) -> requests.Response:
        return real_get(f"http://127.0.0.1:{free_port()}/cert.pem", **options)  # type: ignore[arg-type]

    monkeypatch.setattr(requests, "get", closed_port)
    with pytest.raises(Unverified) as refusal:
        webhook().handle({}, signer.sign(notification(fixture("ses", "complaint"))), time.time())
    assert refusal.value.status == 502
    assert refusal.value.reason == ("Amazon SNS: cannot fetch from sns.eu-central-1.amazonaws.com:"
                                    " ConnectionError")


def test_serve_suppresses_on_a_signed_notification_and_stores_nothing_else(
    signer, fetched, tmp_path: Path
) -> None:
    """Through the web app: 403 and nothing stored for what is wrong; a replay refused."""
    make_project(tmp_path / "news")
    settings = tmp_path / "news" / "mailer.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f'\n[webhooks]\nses_topics = ["{TOPIC}"]\n',
        encoding="utf-8",
    )
    app = create_app(
        settings_for(tmp_path / "news", None),
        environ={"MAILER_UNSUBSCRIBE_SECRET": "s" * 40},
    )
    client = app.test_client()
    headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type":
               "Notification", "x-amz-sns-topic-arn": TOPIC}
    for what, body in wrong_requests(signer):
        answer = client.post("/webhooks/ses", data=body, headers=headers)
        assert answer.status_code == 403, what
    store = tmp_path / "news" / ".mailer" / "suppressions.sqlite3"
    with SuppressionStore(store) as stored:
        assert len(stored) == 0
    signed = signer.sign(notification(fixture("ses", "bounce")))
    first = client.post("/webhooks/ses", data=signed, headers=headers)
    again = client.post("/webhooks/ses", data=signed, headers=headers)  # SNS's retry
    assert (first.status_code, again.status_code) == (200, 403)
    assert first.json == {"recorded": 1, "duplicates": 0, "suppressed": 1, "ignored": 0}
    with SuppressionStore(store) as stored:
        (entry,) = stored.entries()
    assert (entry.email, entry.reason, entry.source) == (
        "jane@example.com", "bounced", "webhook:ses")
    assert json.loads(entry.raw) == json.loads(signed)  # the notification, kept as evidence


def test_without_listed_topics_the_webhook_is_off(tmp_path: Path, signer, fetched) -> None:
    make_project(tmp_path / "news")
    app = create_app(
        settings_for(tmp_path / "news", None), environ={"MAILER_UNSUBSCRIBE_SECRET": "s" * 40}
    )
    answer = app.test_client().post(
        "/webhooks/ses", data=signer.sign(notification(fixture("ses", "bounce")))
    )
    assert answer.status_code == 404 and fetched == []
