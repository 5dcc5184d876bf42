"""SendGrid's Event Webhook, signed (the Signed Event Webhook must be on): up to 1,000 events a
request, as a JSON array.

SendGrid signs the ``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by the raw body
with ECDSA (P-256, SHA-256) and sends the base64 DER signature in
``X-Twilio-Email-Event-Webhook-Signature``. The public key is the base64 text shown under
Settings > Mail Settings > Signed Event Webhook (a DER SubjectPublicKeyInfo), kept in
``SENDGRID_WEBHOOK_PUBLIC_KEY``. The signature covers the body, so an event cannot be altered;
the timestamp must be recent, and the caller drops events it has seen (``sg_event_id``).

What each event means (SendGrid's Event Webhook Reference):

- ``bounce``: of ``type`` "bounce" a permanent failure; "blocked" a temporary one;
- ``dropped``: not sent, because of SendGrid's own suppressions ("Bounced Address",
  "Unsubscribed Address", "Spam Reporting Address"), which become ours; any other reason
  (invalid SMTPAPI header, spam content...) is about the message, not the reader: ignored;
- ``deferred``: the receiving server said "try later";
- ``spamreport``: a complaint; ``unsubscribe`` and ``group_unsubscribe``: an unsubscribe;
- anything else (processed, delivered, open, click, group_resubscribe): ignored.

Our Message-ID comes back as the ``mailer_message_id`` custom argument the transport sets:
SendGrid adds custom arguments to each event as top-level keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailer.audience.events import FeedbackEvent, Kind
from mailer.errors import MissingSecret
from mailer.feedback.webhooks.base import (
    Unverified,
    WebhookProvider,
    check_timestamp,
    header,
    text,
)

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
PUBLIC_KEY = "SENDGRID_WEBHOOK_PUBLIC_KEY"
# A drop because of one of SendGrid's suppression lists: the reader is suppressed there already.
DROPPED: dict[str, Kind] = {
    "bounced address": "bounced",
    "unsubscribed address": "unsubscribed",
    "spam reporting address": "complained",
}


class SendGridWebhook(WebhookProvider):
    name = "sendgrid"
    title = "SendGrid"
    settings = {"public_key": PUBLIC_KEY}

    def __init__(self, public_key: str) -> None:
        """MissingSecret if ``public_key`` is not the base64 of an elliptic-curve public key."""
        try:
            key = serialization.load_der_public_key(
                base64.b64decode("".join(public_key.split()), validate=True)
            )
        except (ValueError, binascii.Error, UnsupportedAlgorithm):
            key = None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise MissingSecret(
                f"{PUBLIC_KEY} is not SendGrid's verification key (the base64 text that "
                "Settings > Mail Settings > Signed Event Webhook shows)"
            )
        self._key = key

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        signature, timestamp = header(headers, SIGNATURE), header(headers, TIMESTAMP)
        if not signature or not timestamp:
            raise Unverified(
                401, f"SendGrid: no {SIGNATURE} or {TIMESTAMP} header (is the Signed Event "
                "Webhook on?)"
            )
        try:
            self._key.verify(
                base64.b64decode(signature, validate=True), timestamp.encode() + body,
                ec.ECDSA(hashes.SHA256()),
            )
        except (ValueError, binascii.Error, InvalidSignature):
            raise Unverified(403, f"SendGrid: wrong signature (is {PUBLIC_KEY} the "
                                  "current verification key?)") from None
        check_timestamp(timestamp, now, self.title)

    def records(self, document: Any) -> Sequence[Any]:
        if not isinstance(document, list):
            raise Unverified(400, "SendGrid: the body is not a JSON array of events")
        return document

    def event(self, record: dict[str, Any]) -> FeedbackEvent | None:
        kind: Kind | None
        match record.get("event"):
            case "bounce":
                kind = "bounced" if record.get("type", "bounce") == "bounce" else "soft_bounce"
            case "dropped":
                kind = DROPPED.get(text(record.get("reason")).lower())
            case "deferred":
                kind = "soft_bounce"
            case "spamreport":
                kind = "complained"
            case "unsubscribe" | "group_unsubscribe":
                kind = "unsubscribed"
            case _:
                kind = None
        if kind is None:
            return None
        return self.feedback(
            kind, record, address=record.get("email"), event_id=record.get("sg_event_id"),
            detail=_detail(record), message_id=record.get("mailer_message_id"),
            occurred_at=record.get("timestamp"),
        )


def _detail(record: dict[str, Any]) -> str:
    """SendGrid's words: the server's answer or the drop's reason, with the SMTP status, e.g.
    ``500 unknown recipient (status 5.0.0)``."""
    words = text(record.get("reason")) or text(record.get("response"))
    status = text(record.get("status"))
    return f"{words} (status {status})" if words and status else words or status
