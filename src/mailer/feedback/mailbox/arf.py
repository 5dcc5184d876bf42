"""RFC 5965 abuse reports (ARF): a reader pressed "this is spam", and their provider tells us.

A ``multipart/report; report-type=feedback-report`` with a human-readable part, a
``message/feedback-report`` part (``Feedback-Type``, ``User-Agent``, and optionally
``Original-Mail-From``, ``Original-Rcpt-To``) and the reported message or its header. Providers
hide the reader: Microsoft's JMRP sends only ``Feedback-Type``, ``User-Agent`` and ``Version``
and redacts the recipient in the returned message; Yahoo sends ``Original-Rcpt-To`` only
sometimes. So the reader is found by the return path, then by the unsubscribe token in the
returned ``List-Unsubscribe``, and only then by an address the report names.
"""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage, Message

from mailer.feedback.mailbox.fields import addresses, fields, first, header_block, text_of
from mailer.feedback.mailbox.identify import (
    by_sent_to,
    by_unsubscribe_token,
    by_verp,
    envelope,
    our_message,
    returned_headers,
)
from mailer.feedback.mailbox.verdict import Finding, Incoming, Verdict

# RFC 5965 7.3: abuse (spam), fraud (phishing), other; virus, not-spam (a rescue from the spam
# folder) and auth-failure (RFC 6591, a DMARC failure report) are not a reader's complaint.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "other"})


def judge(incoming: Incoming) -> Verdict | None:
    """The verdict on an abuse report; None when the message is not one."""
    report = incoming.message
    if report.get_content_type() != "multipart/report":
        return None
    feedback = _feedback_report(report)
    if feedback is None:
        if str(report.get_param("report-type", "")).lower() != "feedback-report":
            return None
        return incoming.verdict("unknown", "an abuse report without its feedback-report part")
    feedback_type = first(feedback, "Feedback-Type")
    agent = first(feedback, "User-Agent")
    shared = [field.line for field in (feedback_type, agent) if field is not None]
    kind = feedback_type.value.split()[0].lower() if feedback_type and feedback_type.value else ""
    if kind not in COMPLAINT_TYPES:
        return incoming.verdict(
            "unknown", f"an abuse report of type {kind or '(none)'}, not a complaint", shared
        )
    returned = returned_headers(report)
    about = our_message(fields(returned, "Message-ID")) if returned is not None else None
    if about:
        shared.append(about.field.line)
    issue_id = about.issue_id if about else None
    lookups = incoming.lookups
    reader = by_verp(lookups, [
        *envelope(report),
        *fields(feedback, "Original-Mail-From"),
        *(fields(returned, "Return-Path") if returned is not None else []),
    ])
    if reader is None and returned is not None:
        reader = by_unsubscribe_token(lookups, fields(returned, "List-Unsubscribe"))
        if reader is not None:
            reader = replace(reader, issue_id=reader.issue_id or issue_id)
    if reader is None:
        named = [*fields(feedback, "Original-Rcpt-To"),
                 *(fields(returned, "X-HmXmrOriginalRecipient") if returned is not None else [])]
        reader = by_sent_to(lookups, issue_id, [
            (field.line, address) for field in named for address in addresses(field.value)
        ])
    if reader is None:
        return incoming.verdict(
            "unknown", f"an abuse report ({kind}) that names no reader we can tell", shared
        )
    message_id = about.message_id if about and about.issue_id == reader.issue_id else None
    finding = Finding(reader, "complained", kind, (), message_id)
    reason = f"abuse report ({kind}) from {reader.address} ({reader.how})"
    return incoming.verdict("complaint", reason, shared, [finding])


def _feedback_report(report: EmailMessage) -> Message | None:
    for part in report.iter_parts():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list):  # parsed as a message: its header is the report
                return payload[0] if payload and isinstance(payload[0], Message) else None
            return header_block(text_of(part))
    return None
