"""RFC 3464 delivery status notifications: Postfix, Exim, Exchange, Gmail and most others.

A DSN is a ``multipart/report; report-type=delivery-status`` whose ``message/delivery-status``
part holds a block about the message and one block per recipient (``Final-Recipient``,
``Action``, ``Status``, ``Diagnostic-Code``). ``Action: failed`` with a 5.x.x status is a
permanent bounce; 4.x.x, or ``Action: delayed``, is a soft one; ``delivered``, ``relayed`` and
``expanded`` report no failure at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message

from mailer.audience.events import Kind
from mailer.feedback.mailbox.fields import Field, addresses, fields, first, header_blocks, text_of
from mailer.feedback.mailbox.identify import (
    OurMessage,
    by_sent_to,
    by_verp,
    envelope,
    our_message,
    returned_headers,
)
from mailer.feedback.mailbox.verdict import (
    SEVERITY,
    Finding,
    Incoming,
    Verdict,
    most_severe,
)

STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")  # RFC 6533
_STATUS = re.compile(r"\s*([245])\.\d{1,3}\.\d{1,3}\b")
_KIND_WORDS: dict[Kind, str] = {"bounced": "bounced", "soft_bounce": "soft bounce"}


@dataclass(frozen=True)
class Failure:
    """What a report says about one recipient it could not deliver to."""

    kind: Kind  # "bounced" or "soft_bounce"
    status: str | None  # the RFC 3463 status: "5.1.1"
    detail: str  # the status and the server's words: "5.1.1 smtp; 550 5.1.1 ... unknown"
    named: tuple[tuple[str, str], ...]  # (line, address): the addresses the report names
    lines: tuple[str, ...]  # the lines the failure was read from


def judge(incoming: Incoming) -> Verdict | None:
    """The verdict on a DSN; None when the message is not one."""
    report = incoming.message
    if report.get_content_type() != "multipart/report":
        return None
    blocks = _status_blocks(report)
    if blocks is None:
        if str(report.get_param("report-type", "")).lower() != "delivery-status":
            return None
        return incoming.verdict("unknown", "a delivery report without its delivery-status part")
    recipients = [block for block in blocks if _names_a_recipient(block)]
    failures = [failure for failure in map(_failure, recipients) if failure is not None]
    if not failures:
        lines = [field.line for block in recipients for field in _fields_of(block)]
        return incoming.verdict("unknown", "a delivery report without a failure in it", lines)
    returned = returned_headers(report)
    about = our_message([
        *(fields(returned, "Message-ID") if returned is not None else []),
        *fields(blocks[0], "X-Original-Message-ID"),  # Gmail
        *fields(report, "In-Reply-To"),  # Exchange, Gmail
        *fields(report, "References"),
    ])
    return_paths = fields(returned, "Return-Path") if returned is not None else []
    return verdict_on(incoming, "delivery report", failures, [*envelope(report), *return_paths],
                      about)


def verdict_on(
    incoming: Incoming,
    what: str,
    failures: Sequence[Failure],
    return_paths: Sequence[Field],
    about: OurMessage | None,
) -> Verdict:
    """Who the failures happened to, by the return path first, else by an address we sent to.

    A report that came back to one recipient's VERP address is about that recipient, even when
    the failing address is another (a forward); when it names several addresses and none is
    that recipient (an alias that expanded), which one matters cannot be told: unknown.
    """
    about_lines = [about.field.line] if about else []
    reader = by_verp(incoming.lookups, return_paths)
    if reader is not None:
        same = [f for f in failures if _names(f, reader.address)]
        chosen = same or (list(failures) if len(failures) == 1 else [])
        if not chosen:
            return incoming.verdict(
                "unknown",
                f"a {what} that came back to the return path of {reader.address}, about "
                f"{_named(failures)}",
                [*reader.evidence, *_lines(failures), *about_lines],
            )
        pairs = [(reader, min(chosen, key=lambda f: SEVERITY.index(f.kind)))]
    else:
        issue_id = about.issue_id if about else None
        pairs = [(sent, failure) for failure in failures
                 if (sent := by_sent_to(incoming.lookups, issue_id, failure.named)) is not None]
        if not pairs:
            return incoming.verdict(
                "unknown", f"a {what} about {_named(failures)}, to whom we did not send",
                [*_lines(failures), *about_lines],
            )
    findings = [
        Finding(reader, failure.kind, failure.detail, (*failure.lines, *about_lines),
                about.message_id if about and about.issue_id == reader.issue_id else None)
        for reader, failure in pairs
    ]
    reason = f"{what}: " + "; ".join(
        f"{_KIND_WORDS[failure.kind]} ({failure.status or 'no status'}) for {reader.address} "
        f"({reader.how})" for reader, failure in pairs
    )
    return incoming.verdict(most_severe(findings), reason, (), findings)


def _named(failures: Sequence[Failure]) -> str:
    return ", ".join(dict.fromkeys(a for f in failures for _, a in f.named)) or "no one"


def _names(failure: Failure, address: str) -> bool:
    return any(named.lower() == address.lower() for _, named in failure.named)


def _lines(failures: Sequence[Failure]) -> list[str]:
    return [line for failure in failures for line in failure.lines]


def _status_blocks(report: EmailMessage) -> list[Message] | None:
    for part in report.iter_parts():
        if part.get_content_type() in STATUS_PARTS:
            payload = part.get_payload()
            if isinstance(payload, list):
                return [block for block in payload if isinstance(block, Message)]
            return header_blocks(text_of(part))  # message/global-delivery-status, or encoded
    return None


_RECIPIENT_FIELDS = ("Final-Recipient", "Original-Recipient", "Action", "Status",
                     "Diagnostic-Code")


def _names_a_recipient(block: Message) -> bool:
    return first(block, "Final-Recipient") is not None or first(block, "Action") is not None


def _fields_of(block: Message) -> list[Field]:
    return [field for name in _RECIPIENT_FIELDS if (field := first(block, name)) is not None]


def _failure(block: Message) -> Failure | None:
    action_field = first(block, "Action")
    status_field = first(block, "Status")
    action = action_field.value.split()[0].lower() if action_field and action_field.value else ""
    match = _STATUS.match(status_field.value) if status_field else None
    status = match.group(0).strip() if match else None
    if action == "delayed":
        kind: Kind = "soft_bounce"
    elif action == "failed" and status and status[0] in "45":  # 2.x.x failed: contradictory
        kind = "bounced" if status[0] == "5" else "soft_bounce"
    else:
        return None
    diagnostic = first(block, "Diagnostic-Code")
    detail = " ".join(part for part in (status, diagnostic.value if diagnostic else "") if part)
    named = [
        (field.line, address)
        for name in ("Original-Recipient", "Final-Recipient")
        if (field := first(block, name)) is not None and (address := _address(field.value))
    ]
    return Failure(kind, status, detail or action, tuple(named),
                   tuple(field.line for field in _fields_of(block)))


def _address(value: str) -> str:
    """``rfc822; x@example.net`` -> ``x@example.net``; "" for another address type."""
    kind, semicolon, address = value.partition(";")
    if not semicolon:
        kind, address = "rfc822", value
    if kind.strip().lower() not in ("rfc822", "utf-8"):
        return ""
    found = addresses(address.strip())
    return found[0] if found else ""
