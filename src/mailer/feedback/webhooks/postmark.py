"""Postmark's webhooks: one event a request, authenticated by HTTP basic auth.

Postmark signs nothing; what it offers is basic auth, written into the webhook's URL
(``https://USER:PASSWORD@host/webhooks/postmark``). The user name and password are
``MAILER_WEBHOOK_USER`` and ``MAILER_WEBHOOK_PASSWORD``; a request without them, or with others,
is refused with 401 and the ``WWW-Authenticate`` challenge (:data:`CHALLENGE`), which the
caller sends back. Repetitions are told apart by the event id only (see :meth:`event`).

Three record types matter: ``Bounce`` (what kind, by its ``Type``: :data:`BOUNCE_TYPES`),
``SpamComplaint``, and ``SubscriptionChange`` (Postmark's suppression list changed). Deliveries,
opens, clicks and anything else are ignored.

Postmark echoes no header of the message sent, only its ``Metadata``: our Message-ID is known
when that holds ``mailer_message_id``, and is None otherwise (Postmark's ``MessageID`` is its own).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from mailer.audience.events import FeedbackEvent, Kind
from mailer.feedback.webhooks.base import (
    Unverified,
    WebhookProvider,
    header,
    json_object,
    same,
    text,
)

CHALLENGE = {"WWW-Authenticate": 'Basic realm="mailer webhooks", charset="UTF-8"'}

# Postmark's bounce types (https://postmarkapp.com/developer/api/bounce-api#bounce-types) that
# are feedback, each with its TypeCode. The others are ignored: AutoResponder (64, an "out of
# office" reply), AddressChange (128), Subscribe (32), ChallengeVerification (16384),
# OpenRelayTest (1024), Unconfirmed (100003), and the failures that are about our message or
# our account rather than the reader's address: VirusNotification (8192), DMARCPolicy
# (100009), SMTPApiError (100007), InboundError (100008), TemplateRenderingFailed (100010).
BOUNCE_TYPES: dict[str, Kind] = {
    "HardBounce": "bounced",  # 1: unknown user, mailbox not found
    "BadEmailAddress": "bounced",  # 100000: not a valid address
    "SpamComplaint": "complained",  # 100001: the reader marked it as spam
    "Unsubscribe": "unsubscribed",  # 16: the reader asked to be removed
    # 100002: someone turned the address off in Postmark, as a ManualSuppression below
    "ManuallyDeactivated": "unsubscribed",
    "Transient": "soft_bounce",  # 2: delayed (network trouble)
    "SoftBounce": "soft_bounce",  # 4096: mailbox full, account disabled, over quota
    "DnsError": "soft_bounce",  # 256: a temporary DNS error
    "Blocked": "soft_bounce",  # 100006: blocked by the receiving ISP (SendGrid's "blocked")
    # 512: refused or filed as spam by the receiving server, or blocked by the reader: counted,
    # it suppresses only when it keeps happening
    "SpamNotification": "soft_bounce",
    "Unknown": "soft_bounce",  # 2048: a failure notice Postmark could not classify
}
# Why Postmark put an address on its suppression list (SubscriptionChange.SuppressionReason).
# A ManualSuppression of Origin "Recipient" is a reader's unsubscribe (Postmark's link); of
# "Customer" or "Admin", a person's decision. Any other reason suppresses too, as unsubscribed.
SUPPRESSION_REASONS: dict[str, Kind] = {
    "HardBounce": "bounced",
    "SpamComplaint": "complained",
    "ManualSuppression": "unsubscribed",
}


class PostmarkWebhook(WebhookProvider):
    name = "postmark"
    title = "Postmark"
    settings = {"user": "MAILER_WEBHOOK_USER", "password": "MAILER_WEBHOOK_PASSWORD"}

    def __init__(self, user: str, password: str) -> None:
        self._user = user
        self._password = password

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        given = _basic_credentials(header(headers, "Authorization") or "")
        # "&", not "and": both are compared, so the time taken does not tell which one differs.
        if given is None or not (same(given[0], self._user) & same(given[1], self._password)):
            raise Unverified(
                401, "Postmark: no or wrong user name and password (the webhook's URL must be "
                "https://MAILER_WEBHOOK_USER:MAILER_WEBHOOK_PASSWORD@...)", CHALLENGE,
            )

    def records(self, document: Any) -> Sequence[Any]:
        return [document]

    def event(self, record: dict[str, Any]) -> FeedbackEvent | None:
        match record.get("RecordType"):
            case "Bounce" | "SpamComplaint":
                return self._bounce(record)
            case "SubscriptionChange":
                return self._subscription_change(record)
            case _:
                return None

    def _bounce(self, record: dict[str, Any]) -> FeedbackEvent | None:
        kind = BOUNCE_TYPES.get(text(record.get("Type")))
        if kind is None:
            return None
        words = text(record.get("Details")) or text(record.get("Description"))
        return self.feedback(
            kind, record, address=record.get("Email"), event_id=record.get("ID"),
            detail=": ".join(filter(None, [text(record.get("Name")), words])),
            message_id=_our_message_id(record), occurred_at=record.get("BouncedAt"),
        )

    def _subscription_change(self, record: dict[str, Any]) -> FeedbackEvent | None:
        if record.get("SuppressSending") is not True:
            # A reactivation: someone took the address off Postmark's list. Ours is not changed
            # by that: a suppression is lifted by a person, in our list, on purpose.
            return None
        reason = text(record.get("SuppressionReason"))
        return self.feedback(
            SUPPRESSION_REASONS.get(reason, "unsubscribed"), record,
            address=record.get("Recipient"), event_id=_change_id(record),
            detail=f"suppressed: {reason} (origin: {text(record.get('Origin'))})",
            message_id=_our_message_id(record), occurred_at=record.get("ChangedAt"),
        )


def _our_message_id(record: dict[str, Any]) -> Any:
    return json_object(record.get("Metadata")).get("mailer_message_id")


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """The user name and password of an ``Authorization: Basic ...`` header, or None."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _change_id(record: dict[str, Any]) -> str:
    """A subscription change has no id of its own: one made of what tells it apart, the same
    each time Postmark sends it again."""
    parts = ["SubscriptionChange", *(text(record.get(key)) for key in (
        "MessageID", "ChangedAt", "Recipient",
    ))]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
