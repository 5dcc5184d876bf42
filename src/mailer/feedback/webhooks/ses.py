"""Amazon SES's notifications, as Amazon SNS posts them over HTTP(S): signed with AWS's key.

SNS posts a JSON document (``Content-Type: text/plain``) of ``Type`` ``SubscriptionConfirmation``
(once, when the subscription is made), ``Notification`` or ``UnsubscribeConfirmation``. Each is
signed (SNS's "Verifying the signatures of Amazon SNS messages"): ``Signature`` is the base64
RSA signature, with SHA1 for ``SignatureVersion`` 1 and SHA256 for 2, of the canonical string
(:func:`canonical`): the name of each signed field and its value, one a line, in the documented
order. The public key is in the X.509 certificate at ``SigningCertURL``, which must be on
``https://sns.<region>.amazonaws.com/`` (:data:`CERTIFICATE_URL`): any other host, and the
request is refused before anything is fetched. Certificates are cached by URL.

In order, before a word of ``Message`` is read: the topic must be one of ``[webhooks]
ses_topics`` (else 403: another AWS account's topic could post here), the certificate URL on
SNS's host, the signature version known, the signature right (else 403). Then:

- ``SubscriptionConfirmation``: the ``SubscribeURL`` (on SNS's host too) is fetched, which
  confirms the subscription;
- ``Notification``: ``Message`` is the SES notification (an identity's notifications:
  ``notificationType``, or a configuration set's event publishing: ``eventType``). A
  ``Permanent`` bounce suppresses each bounced recipient (bounced), a complaint each complained
  recipient (complained), a ``Transient`` or ``Undetermined`` bounce counts as a soft bounce;
  deliveries and every other event are ignored.

SNS sends a notification again until it is answered: its ``MessageId`` is the replay key, so the
same notification is recorded once. Each event keeps the whole signed notification as its
evidence. Our Message-ID comes back in ``mail.commonHeaders.messageId`` (SES keeps the raw
message's header) and names the issue.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailer.audience.events import FeedbackEvent, Kind
from mailer.audience.replays import KEPT_SECONDS
from mailer.feedback.webhooks.base import (
    MAX_AGE_SECONDS,
    Parsed,
    Unverified,
    WebhookProvider,
    decode_json,
    json_object,
    text,
)

# The only host a certificate or a subscription URL may be on: SNS in one region.
SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com")
CERTIFICATE_PATH = re.compile(r"/[A-Za-z0-9._-]+\.pem")
# The signed fields of each message type, in the order of the canonical string.
SIGNED: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERTIFICATES = 32  # SNS signs with one certificate a region at a time, rotated rarely
TIMEOUT = 10.0


def sns_get(url: str) -> bytes:
    """GET ``url`` (already checked to be on SNS's host) and its body: the certificate, or the
    confirmation of a subscription."""
    import requests

    try:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False)
        response.raise_for_status()
    except requests.RequestException as exc:
        # Ours to answer with a 5xx: SNS sends the message again later.
        where = urlsplit(url).netloc
        raise Unverified(502, f"Amazon SNS: cannot fetch from {where}: "
                              f"{type(exc).__name__}") from None
    return response.content


def on_sns(url: str, path: re.Pattern[str] | None = None) -> bool:
    """Whether ``url`` is ``https://sns.<region>.amazonaws.com/...`` and nothing else (no user,
    no port), with a path matching ``path`` when given."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https" and port is None and parts.username is None
        and parts.password is None and SNS_HOST.fullmatch(parts.netloc) is not None
        and (path is None or (path.fullmatch(parts.path) is not None and not parts.query))
    )


def canonical(message: Mapping[str, Any]) -> bytes:
    """The text SNS signs: each signed field present, ``name\\nvalue\\n``, in SNS's order."""
    fields = SIGNED[str(message.get("Type"))]
    return "".join(
        f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None
    ).encode("utf-8")


class Certificates:
    """The public keys of SNS's signing certificates, fetched once per URL."""

    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self._fetch = fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def key(self, url: str) -> rsa.RSAPublicKey:
        """The key of the certificate at ``url`` (on SNS's host); Unverified (403) when it
        cannot be fetched or is not an RSA certificate."""
        with self._lock:
            key = self._keys.get(url)
        if key is not None:
            return key
        # A failure to fetch it is ours to answer (5xx): SNS sends the message again later.
        data = self._fetch(url)
        try:
            found = x509.load_pem_x509_certificate(data).public_key()
        except ValueError:
            raise Unverified(403, "Amazon SNS: SigningCertURL holds no certificate") from None
        if not isinstance(found, rsa.RSAPublicKey):
            raise Unverified(403, "Amazon SNS: the signing certificate holds no RSA key")
        with self._lock:
            if len(self._keys) >= MAX_CERTIFICATES:
                self._keys.clear()
            self._keys[url] = found
        return found


class SesWebhook(WebhookProvider):
    name = "ses"
    title = "Amazon SES"
    settings: ClassVar[Mapping[str, str]] = {}  # no secret: AWS's signature, topics listed

    def __init__(self, topics: Sequence[str], fetch: Callable[[str], bytes] | None = None) -> None:
        """``topics``: the ARNs of ``[webhooks] ses_topics``; ``fetch``: how a URL on SNS's
        host is fetched (by default :func:`sns_get`)."""
        self.topics = frozenset(topics)
        self._fetch = fetch
        self.certificates = Certificates(self.get)

    def get(self, url: str) -> bytes:
        """The body at ``url``, which the caller checked is on SNS's host."""
        return (self._fetch or sns_get)(url)  # looked up now: a test replaces sns_get

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        message = _envelope(body)
        kind = text(message.get("Type"))
        if kind not in SIGNED:
            raise Unverified(400, f"Amazon SNS: unknown message type {kind[:40]!r}")
        topic = text(message.get("TopicArn"))
        if topic not in self.topics:
            raise Unverified(
                403, f"Amazon SNS: the topic {topic[:300]!r} is not in [webhooks] ses_topics"
            )
        url = text(message.get("SigningCertURL"))
        if not on_sns(url, CERTIFICATE_PATH):
            raise Unverified(
                403, "Amazon SNS: SigningCertURL is not a certificate on "
                "https://sns.<region>.amazonaws.com/"
            )
        algorithm = HASHES.get(text(message.get("SignatureVersion")))
        if algorithm is None:
            raise Unverified(403, "Amazon SNS: SignatureVersion is neither 1 nor 2")
        try:
            signature = base64.b64decode(text(message.get("Signature")), validate=True)
            self.certificates.key(url).verify(
                signature, canonical(message), padding.PKCS1v15(), algorithm()
            )
        except (binascii.Error, ValueError, InvalidSignature):
            raise Unverified(403, "Amazon SNS: wrong signature") from None
        # Signed, but maybe captured: refused once older than the replay keys are kept (SNS
        # retries a delivery for an hour at most).
        try:
            sent = datetime.fromisoformat(text(message.get("Timestamp"))).timestamp()
        except ValueError:
            raise Unverified(400, "Amazon SNS: Timestamp is not a time") from None
        if not now - KEPT_SECONDS <= sent <= now + MAX_AGE_SECONDS:
            raise Unverified(403, "Amazon SNS: the message is more than an hour old or in the "
                                  "future (a replay, or a wrong clock here)")

    def parse(self, body: bytes) -> Parsed:
        """A verified message's events; a subscription to a listed topic is confirmed."""
        message = _envelope(body)
        if message.get("Type") == "SubscriptionConfirmation":
            self._confirm(message)
        return super().parse(body)

    def records(self, document: Any) -> Sequence[Any]:
        """One record per recipient a bounce or complaint names, each holding the whole signed
        message (the evidence); one record for any other message (it suppresses nobody)."""
        if document.get("Type") != "Notification":
            return [{"sns": document}]
        notification = decode_json(text(document.get("Message")).encode("utf-8"), self.title)
        if not isinstance(notification, dict):
            raise Unverified(400, "Amazon SES: the notification is not a JSON object")
        what = text(notification.get("notificationType") or notification.get("eventType"))
        about = json_object(notification.get(what.lower()))
        listed = {"Bounce": "bouncedRecipients", "Complaint": "complainedRecipients"}.get(what)
        recipients = _listed(about.get(listed)) if listed else []
        if not recipients:
            return [{"sns": document}]
        return [
            {"sns": document, "what": what, "about": about, "recipient": recipient,
             "mail": json_object(notification.get("mail"))}
            for recipient in recipients
        ]

    def event(self, record: dict[str, Any]) -> FeedbackEvent | None:
        what = record.get("what")
        if what is None:
            return None
        about, recipient = record["about"], record["recipient"]
        kind: Kind
        if what == "Bounce":
            kind = "bounced" if about.get("bounceType") == "Permanent" else "soft_bounce"
            detail = text(recipient.get("diagnosticCode")) or " ".join(filter(None, [
                text(about.get("bounceType")), text(about.get("bounceSubType")),
            ]))
        elif about.get("complaintFeedbackType") == "not-spam":
            return None  # the reader's provider says it was not a complaint about spam
        else:
            kind, detail = "complained", text(about.get("complaintFeedbackType")) or "complaint"
        sns = record["sns"]
        address = recipient.get("emailAddress")
        return self.feedback(
            kind, sns, address=address,
            event_id=f"{text(sns.get('MessageId'))}:{text(address).lower()}", detail=detail,
            message_id=json_object(record["mail"].get("commonHeaders")).get("messageId"),
            occurred_at=about.get("timestamp"),
        )

    def replay_key(self, document: Any) -> str | None:
        return f"sns:{text(document.get('MessageId'))}"

    def _confirm(self, message: Mapping[str, Any]) -> None:
        """Fetch the SubscribeURL, which confirms the subscription (its topic is listed)."""
        url = text(message.get("SubscribeURL"))
        if not on_sns(url):
            raise Unverified(
                400, "Amazon SNS: SubscribeURL is not on https://sns.<region>.amazonaws.com/"
            )
        self.get(url)  # a failure is answered 5xx: SNS sends the confirmation again


def _envelope(body: bytes) -> dict[str, Any]:
    message = decode_json(body, "Amazon SNS")
    if not isinstance(message, dict):
        raise Unverified(400, "Amazon SNS: the body is not a JSON object")
    return message


def _listed(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
