"""What a message of the bounce mailbox was judged to be, the events to record, and why."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Literal

from mailer.audience.events import FeedbackEvent, Kind
from mailer.audience.unsubscribe import Claims
from mailer.feedback.mailbox.fields import first

VerdictKind = Literal["bounce", "soft_bounce", "complaint", "unsubscribe", "auto_reply", "unknown"]

VERDICT_OF: dict[Kind, VerdictKind] = {
    "bounced": "bounce",
    "soft_bounce": "soft_bounce",
    "complained": "complaint",
    "unsubscribed": "unsubscribe",
}
SEVERITY: tuple[Kind, ...] = ("bounced", "complained", "unsubscribed", "soft_bounce")


@dataclass(frozen=True)
class Verdict:
    """One message judged.

    ``handled`` messages may be moved out of the mailbox once ``events`` are recorded; an
    ``unknown`` one is left exactly as it is, for a person. ``evidence`` holds the lines the
    verdict was based on, exactly as the message has them (unfolded); ``reason`` says in one
    sentence what was concluded from them.
    """

    kind: VerdictKind
    message_id: str | None  # the judged message's own Message-ID, without angle brackets
    reason: str
    evidence: tuple[str, ...] = ()
    events: tuple[FeedbackEvent, ...] = ()

    @property
    def handled(self) -> bool:
        return self.kind != "unknown"


@dataclass(frozen=True)
class Lookups:
    """How the judge consults what was sent, without depending on the store that knows it.

    ``verp``: an address a report came back to -> (issue id, recipient) when it is a VERP
    address of ours (``bounces+TOKEN@``, see :mod:`mailer.audience.verp`), else None.
    ``unsubscribe``: an unsubscribe token -> the address and issue it names, or None when it
    is not genuine.
    ``unsubscribe_mailto``: the address readers write to to unsubscribe (None: there is none).
    ``sent_to(issue_id, address)``: whether that issue (any issue, for None) went to address.
    """

    verp: Callable[[str], tuple[str, str] | None]
    unsubscribe: Callable[[str], Claims | None]
    unsubscribe_mailto: str | None
    sent_to: Callable[[str | None, str], bool]


@dataclass(frozen=True)
class Reader:
    """Who a report is about, and the lines that say so."""

    address: str
    issue_id: str | None
    evidence: tuple[str, ...]
    how: str  # how we know: "named by the return path", ... (for the verdict's reason)


@dataclass(frozen=True)
class Finding:
    """One event's worth of a verdict: who, what happened to them, in the server's words."""

    reader: Reader
    kind: Kind
    detail: str
    evidence: tuple[str, ...]  # the lines about this reader (a DSN's block)
    message_id: str | None = None  # our Message-ID of the message the report is about


@dataclass(frozen=True)
class Incoming:
    """The message being judged, with what every judge needs to know about it."""

    message: EmailMessage
    lookups: Lookups
    message_id: str | None
    event_id: str
    occurred_at: float | None

    @classmethod
    def of(cls, message: EmailMessage, lookups: Lookups) -> Incoming:
        field = first(message, "Message-ID")
        message_id = field.value.strip().strip("<>").strip() if field else ""
        # Without one, the same bytes give the same id on every run: still de-duplicated.
        event_id = message_id or "sha256:" + hashlib.sha256(bytes(message)).hexdigest()
        return cls(message, lookups, message_id or None, event_id, _date(message))

    def verdict(
        self,
        kind: VerdictKind,
        reason: str,
        evidence: Iterable[str] = (),
        findings: Sequence[Finding] = (),
    ) -> Verdict:
        """The verdict, with one event per finding.

        Each event's id is the message's own id; when one message reports on several readers
        (a DSN with several failed recipients), the address is added to tell them apart.
        """
        shared = list(evidence)
        events = []
        for finding in findings:
            event_id = self.event_id
            if len(findings) > 1:
                event_id += f"#{finding.reader.address}"
            events.append(FeedbackEvent(
                kind=finding.kind,
                address=finding.reader.address,
                source="mailbox",
                event_id=event_id,
                detail=finding.detail,
                issue_id=finding.reader.issue_id,
                message_id=finding.message_id,
                occurred_at=self.occurred_at,
                raw="\n".join(_unique([*shared, *finding.reader.evidence, *finding.evidence])),
            ))
        every = _unique(
            shared + [line for f in findings for line in (*f.reader.evidence, *f.evidence)]
        )
        return Verdict(kind, self.message_id, reason, tuple(every), tuple(events))


def most_severe(findings: Iterable[Finding]) -> VerdictKind:
    return VERDICT_OF[min((f.kind for f in findings), key=SEVERITY.index)]


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _date(message: EmailMessage) -> float | None:
    field = first(message, "Date")
    if field is None:
        return None
    try:
        when = parsedate_to_datetime(field.value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, its local offset unknown (RFC 5322 3.3)
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
