"""SendGrid's suppression lists, read with ``limit`` and ``offset`` (at most 500 a page).

- ``GET /v3/suppression/unsubscribes``: global unsubscribes ``{"created", "email"}``;
- ``GET /v3/suppression/bounces``: ``{"created", "email", "reason", "status"}``;
- ``GET /v3/suppression/spam_reports``: ``{"created", "email", "ip"}``;
- with an unsubscribe group in the DSN (``?asm_group=ID``), ``GET
  /v3/asm/groups/ID/suppressions``: the group's unsubscribes, a list of addresses (undated).

Each list is an array; a page shorter than the limit is its last. ``created`` is epoch
seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mailer.audience.events import FeedbackEvent, Kind
from mailer.delivery.transports.sendgrid import SendGridTransport
from mailer.delivery.transports.suppressions import SuppressionList

PAGE = 500  # SendGrid's largest limit for these lists
LISTS: tuple[tuple[str, Kind], ...] = (
    ("/v3/suppression/unsubscribes", "unsubscribed"),
    ("/v3/suppression/bounces", "bounced"),
    ("/v3/suppression/spam_reports", "complained"),
)


class SendGridSuppressions(SuppressionList):
    provider = "sendgrid"
    transport: SendGridTransport

    def events(self) -> Iterator[FeedbackEvent]:
        for path, kind in LISTS:
            offset = 0
            while True:
                page = self.get(path, {"limit": PAGE, "offset": offset})
                if not isinstance(page, list):
                    raise self.malformed(path)
                for entry in page:
                    yield self._event(kind, entry if isinstance(entry, dict) else {})
                if len(page) < PAGE:
                    break
                offset += PAGE
        group = self.transport.asm_group
        if group is not None:
            path = f"/v3/asm/groups/{group}/suppressions"
            addresses = self.get(path)
            if not isinstance(addresses, list):
                raise self.malformed(path)
            for address in addresses:
                yield self.event(
                    "unsubscribed", address, None, f"group-{group}",
                    f"unsubscribed from the unsubscribe group {group}", address,
                )

    def _event(self, kind: Kind, entry: dict[str, Any]) -> FeedbackEvent:
        stamp = entry.get("created")
        when = float(stamp) if isinstance(stamp, int | float) and not isinstance(
            stamp, bool) else None
        return self.event(kind, entry.get("email"), when, stamp, _detail(kind, entry), entry)


def _detail(kind: Kind, entry: dict[str, Any]) -> str:
    """SendGrid's words for one entry."""
    if kind == "bounced":
        return f"{entry.get('status') or ''} {entry.get('reason') or ''}".strip()
    if kind == "complained":
        return "marked as spam"
    return "unsubscribed from all mail (global unsubscribe)"
