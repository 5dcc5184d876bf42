"""Postmark's suppressions of the message stream: ``GET
/message-streams/STREAM/suppressions/dump``.

The dump is the stream's whole list in one answer (Postmark documents no pages):
``{"Suppressions": [{"EmailAddress", "SuppressionReason", "Origin", "CreatedAt"}]}``. The
reason is ``HardBounce``, ``SpamComplaint`` or ``ManualSuppression``: of ``Origin``
``Recipient``, a reader who followed Postmark's unsubscribe link; of ``Customer`` or
``Admin``, a person's decision, kept as an unsubscribe too (whatever else it is, it suppresses).
``CreatedAt`` is ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from mailer.audience.events import FeedbackEvent, Kind
from mailer.delivery.transports.postmark import PostmarkTransport
from mailer.delivery.transports.suppressions import SuppressionList

REASONS: dict[str, Kind] = {
    "HardBounce": "bounced", "SpamComplaint": "complained", "ManualSuppression": "unsubscribed",
}


class PostmarkSuppressions(SuppressionList):
    provider = "postmark"
    transport: PostmarkTransport

    def events(self) -> Iterator[FeedbackEvent]:
        path = f"/message-streams/{self.transport.message_stream}/suppressions/dump"
        body = self.get(path)
        entries = body.get("Suppressions") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise self.malformed(path)
        for entry in entries:
            yield self._event(entry if isinstance(entry, dict) else {})

    def _event(self, entry: dict[str, Any]) -> FeedbackEvent:
        reason = str(entry.get("SuppressionReason") or "")
        stamp = entry.get("CreatedAt")
        return self.event(
            REASONS.get(reason, "unsubscribed"), entry.get("EmailAddress"), _when(stamp), stamp,
            f"{reason} (origin: {entry.get('Origin') or 'unknown'})", entry,
        )


def _when(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return None
