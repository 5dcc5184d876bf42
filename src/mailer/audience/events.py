"""The one shape every piece of feedback takes, whichever door it came in by.

A webhook parser (one module per provider, in ``mailer.feedback``) and the bounce mailbox
reader each turn what they receive into these; the suppression store records them, so the
type lives here, with the store that defines what it keeps. The raw event and the provider's own
words travel with every event, so a person can always see what a verdict was based on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["bounced", "soft_bounce", "complained", "unsubscribed"]
SUPPRESSING: frozenset[str] = frozenset({"bounced", "complained", "unsubscribed"})
ESP_SOURCE = "esp:"  # the start of the source of what is pulled from an ESP's suppression lists


@dataclass(frozen=True)
class FeedbackEvent:
    """One bounce, complaint or unsubscribe for one address.

    ``kind``: ``bounced`` a permanent failure (the address does not exist, the domain has no
    mail server); ``soft_bounce`` a temporary one (mailbox full, greylisted), counted and only
    suppressing after several; ``complained`` the reader marked it as spam; ``unsubscribed``
    the reader asked to stop.
    """

    kind: Kind
    address: str
    source: str  # "webhook:mailgun", "mailbox", "esp:mailgun" (its suppression lists), ...
    event_id: str  # the provider's id of the event, for de-duplication; never empty
    detail: str = ""  # the provider's or server's own words (a bounce's diagnostic)
    issue_id: str | None = None  # the issue the feedback is about, when known
    message_id: str | None = None  # our Message-ID, when known (without angle brackets)
    occurred_at: float | None = None  # when the provider says it happened (epoch seconds)
    raw: str = ""  # the event as received (JSON, or the message's relevant lines)

    @property
    def suppresses(self) -> bool:
        return self.kind in SUPPRESSING
