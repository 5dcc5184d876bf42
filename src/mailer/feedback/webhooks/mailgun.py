"""Mailgun's webhooks, in their current JSON form: one event a request.

The body is ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``. The
signature is the hex HMAC-SHA256, keyed with the HTTP webhook signing key
(``MAILGUN_WEBHOOK_SIGNING_KEY``), of the timestamp followed by the token; it does not cover the
event data. So, as Mailgun advises, the timestamp must be recent and each token be accepted
once: the token is :attr:`Parsed.replay_key`, for the caller to remember.

Unlike listmonk, which skips the check when no key is set, there is no way to accept a Mailgun
event without its key.

``failed`` events are bounces, ``permanent`` or ``temporary`` by their ``severity``;
``complained`` and ``unsubscribed`` are what they say; every other event is ignored. The
Message-ID is the one the message was sent with (``message.headers.message-id``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from mailer.audience.events import FeedbackEvent, Kind
from mailer.feedback.webhooks.base import (
    Unverified,
    WebhookProvider,
    check_timestamp,
    decode_json,
    json_object,
    same,
    text,
)


class MailgunWebhook(WebhookProvider):
    name = "mailgun"
    title = "Mailgun"
    settings = {"signing_key": "MAILGUN_WEBHOOK_SIGNING_KEY"}

    def __init__(self, signing_key: str) -> None:
        self._key = signing_key.encode()

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp, token, signature = _signature(decode_json(body, self.title))
        signed = (timestamp + token).encode("utf-8", "surrogatepass")  # JSON allows lone surrogates
        expected = hmac.new(self._key, signed, hashlib.sha256).hexdigest()
        if not same(signature, expected):
            raise Unverified(403, "Mailgun: wrong signature (is MAILGUN_WEBHOOK_SIGNING_KEY "
                                  "the domain's HTTP webhook signing key?)")
        check_timestamp(timestamp, now, self.title)

    def records(self, document: Any) -> Sequence[Any]:
        return [json_object(document).get("event-data")]

    def replay_key(self, document: Any) -> str | None:
        return f"mailgun:{_signature(document)[1]}"

    def event(self, record: dict[str, Any]) -> FeedbackEvent | None:
        kind: Kind
        match record.get("event"), record.get("severity"):
            case "failed", "permanent":
                kind = "bounced"
            case "failed", "temporary":
                kind = "soft_bounce"
            case "complained", _:
                kind = "complained"
            case "unsubscribed", _:
                kind = "unsubscribed"
            case _:
                return None
        headers = json_object(json_object(record.get("message")).get("headers"))
        return self.feedback(
            kind, record, address=record.get("recipient"), event_id=record.get("id"),
            detail=_detail(json_object(record.get("delivery-status"))),
            message_id=headers.get("message-id"), occurred_at=record.get("timestamp"),
        )


def _signature(document: Any) -> tuple[str, str, str]:
    """The timestamp, token and signature Mailgun signed the request with; Unverified (401)
    without them."""
    block = json_object(json_object(document).get("signature"))
    timestamp, token, signature = (text(block.get(k)) for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise Unverified(401, "Mailgun: no signature (timestamp, token and signature) in the body")
    return timestamp, token, signature


def _detail(status: dict[str, Any]) -> str:
    """The server's words, e.g. ``550 5.1.1 The email account that you tried to reach does not
    exist``; Mailgun's own description when the server said nothing."""
    words = text(status.get("message")) or text(status.get("description"))
    return f"{text(status.get('code'))} {words}".strip()
