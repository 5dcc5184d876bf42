"""Mailgun's suppression lists: ``GET /v3/DOMAIN/unsubscribes``, ``/bounces``, ``/complaints``.

Each answers a page of at most ``limit`` (1,000) entries as ``{"items": [...], "paging":
{"first", "next", "previous", "last"}}``; the ``next`` URL is followed until a page has no
items (Mailgun always gives one). The entries:

- unsubscribes ``{"address", "tags", "created_at"}``: ``tags`` ``["*"]`` for the whole domain
  (``%unsubscribe_url%``), other tags for a tag's unsubscribe link; each is an unsubscribe;
- bounces ``{"address", "code", "error", "created_at"}``;
- complaints ``{"address", "created_at"}``.

``created_at`` is an RFC 2822 date ("Fri, 21 Oct 2011 11:02:55 UTC").

Mailgun fills ``%unsubscribe_url%`` and adds its List-Unsubscribe headers only when the domain's
unsubscribe tracking is on, a setting of the domain (``GET /v3/domains/DOMAIN/tracking``,
``tracking.unsubscribe.active``): a send that leaves unsubscribes to Mailgun stops without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

from mailer.audience.events import FeedbackEvent, Kind
from mailer.delivery.transports.mailgun import MailgunTransport
from mailer.delivery.transports.suppressions import SuppressionList

PAGE = 1000  # Mailgun's largest limit
LISTS: tuple[tuple[str, Kind], ...] = (
    ("unsubscribes", "unsubscribed"), ("bounces", "bounced"), ("complaints", "complained"),
)


class MailgunSuppressions(SuppressionList):
    provider = "mailgun"
    transport: MailgunTransport

    def events(self) -> Iterator[FeedbackEvent]:
        for name, kind in LISTS:
            path = f"/v3/{self.transport.domain}/{name}"
            url: str = path
            params: dict[str, str | int] | None = {"limit": PAGE}
            followed: set[str] = set()
            while True:
                body = self.get(url, params)
                items = body.get("items") if isinstance(body, dict) else None
                if not isinstance(items, list):
                    raise self.malformed(path)
                if not items:
                    break
                for item in items:
                    yield self._event(kind, item if isinstance(item, dict) else {})
                paging = body.get("paging")
                following = paging.get("next") if isinstance(paging, dict) else None
                if not isinstance(following, str) or following in followed:
                    break
                followed.add(following)
                url, params = following, None

    def handling_off(self) -> str | None:
        domain = self.transport.domain
        path = f"/v3/domains/{domain}/tracking"
        body = self.get(path)
        tracking = body.get("tracking") if isinstance(body, dict) else None
        unsubscribe = tracking.get("unsubscribe") if isinstance(tracking, dict) else None
        if not isinstance(unsubscribe, dict):
            raise self.malformed(path)
        if unsubscribe.get("active") is True:
            return None
        return (
            f"unsubscribe tracking is off for {domain}: readers would get a dead "
            "%unsubscribe_url% link and no List-Unsubscribe header; turn it on in Mailgun "
            "(Send > Sending > Domain settings > Tracking > Unsubscribe tracking) and send again"
        )

    def _event(self, kind: Kind, item: dict[str, Any]) -> FeedbackEvent:
        stamp = item.get("created_at")
        return self.event(
            kind, item.get("address"), _when(stamp), stamp, _detail(kind, item), item
        )


def _when(stamp: Any) -> float | None:
    try:
        return parsedate_to_datetime(str(stamp)).timestamp()
    except (TypeError, ValueError):
        return None


def _detail(kind: Kind, item: dict[str, Any]) -> str:
    """Mailgun's words for one entry."""
    if kind == "bounced":
        return f"{item.get('code') or ''} {item.get('error') or ''}".strip()
    if kind == "complained":
        return "marked as spam"
    tags = item.get("tags") or ["*"]
    if "*" in tags:
        return "unsubscribed from all mail of the domain"
    return "unsubscribed from the tags " + ", ".join(map(str, tags))
