"""Exim's classic bounce: plain text, no delivery-status part, still sent by many servers.

    Subject: Mail delivery failed: returning message to sender
    X-Failed-Recipients: reader@example.net

    This message was created automatically by mail delivery software.

    A message that you sent could not be delivered to one or more of its
    recipients. This is a permanent error. The following address(es) failed:

      reader@example.net
        SMTP error from remote mail server after RCPT TO:<reader@example.net>:
        host mx.example.net [203.0.113.25]: 550 5.1.1 User unknown

    ------ This is a copy of the message, including all the headers. ------

Only this exact form is read: every sentence above must be there, each failed address on its
own line indented by two spaces, its reasons indented by four, and each one listed in
``X-Failed-Recipients`` when that is present. Anything else is not taken for a bounce.
"""

from __future__ import annotations

import re
from dataclasses import replace

from mailer.audience.events import Kind
from mailer.feedback.mailbox.dsn import Failure, verdict_on
from mailer.feedback.mailbox.fields import (
    addresses,
    decoded,
    fields,
    header_block,
    text_of,
    value,
)
from mailer.feedback.mailbox.identify import envelope, our_message
from mailer.feedback.mailbox.verdict import Incoming, Verdict

SUBJECT = "mail delivery failed"
PREAMBLE = "This message was created automatically by mail delivery software."
PERMANENT = re.compile(r"^.*This is a permanent error\. The following address\(es\) failed:$",
                       re.MULTILINE)
COPY = re.compile(r"^------ This is a copy of the message", re.MULTILINE)
_ADDRESS_LINE = re.compile(r"  (\S+@\S+)")
_REASON_LINE = re.compile(r"    \s*(\S.*)")
# The remote's reply: "550 5.1.1 ..." or "550-5.1.1 ..." (never a number inside an IP address).
_REPLY = re.compile(
    r"(?:^|[\s:])(?P<code>[45])\d\d(?:[ -](?P<status>[45]\.\d{1,3}\.\d{1,3}))?(?=[\s-]|$)"
)


def judge(incoming: Incoming) -> Verdict | None:
    """The verdict on Exim's classic bounce; None when the message is not one."""
    message = incoming.message
    if message.is_multipart() or not decoded(value(message, "Subject")).lower().startswith(
        SUBJECT
    ):
        return None
    text = text_of(message).replace("\r\n", "\n")
    permanent = PERMANENT.search(text)
    if PREAMBLE not in text or permanent is None:
        return None
    rest = text[permanent.end():]
    copy = COPY.search(rest)
    failures = _failures(rest[:copy.start()] if copy else rest)
    failed_header = fields(message, "X-Failed-Recipients")
    listed = {address.lower() for field in failed_header for address in addresses(field.value)}
    if not failures:
        return incoming.verdict("unknown", "an Exim bounce whose failed addresses cannot be read")
    if failed_header and any(a.lower() not in listed for f in failures for _, a in f.named):
        return incoming.verdict(
            "unknown", "an Exim bounce whose addresses differ from its X-Failed-Recipients",
            [field.line for field in failed_header],
        )
    shared = [permanent.group(0).strip(), *(field.line for field in failed_header)]
    returned = header_block(rest[copy.end():].partition("\n")[2]) if copy else None
    about = our_message([
        *(fields(returned, "Message-ID") if returned is not None else []),
        *fields(message, "In-Reply-To"),
        *fields(message, "References"),
    ])
    return_paths = fields(returned, "Return-Path") if returned is not None else []
    failures = [replace(f, lines=(*shared, *f.lines)) for f in failures]
    return verdict_on(incoming, "Exim bounce", failures, [*envelope(message), *return_paths],
                      about)


def _failures(section: str) -> list[Failure]:
    """The failed addresses and their reasons, up to the first line of another shape."""
    entries: list[tuple[str, list[str]]] = []
    for line in section.splitlines():
        if not line.strip():
            continue
        if reason := _REASON_LINE.fullmatch(line):
            if not entries:
                return []
            entries[-1][1].append(reason.group(1).strip())
        elif address := _ADDRESS_LINE.fullmatch(line.rstrip()):
            entries.append((address.group(1), []))
        else:
            break
    return [_failure(address, reasons) for address, reasons in entries]


def _failure(address: str, reasons: list[str]) -> Failure:
    diagnostic = " ".join(reasons)
    reply = _REPLY.search(diagnostic)
    status = (reply.group("status") or f"{reply.group('code')}.0.0") if reply else None
    # Exim has said the error is permanent; only a 4xx reply it gave up on makes it soft.
    kind: Kind = "soft_bounce" if status and status[0] == "4" else "bounced"
    detail = f"{status} {diagnostic}" if status else diagnostic
    return Failure(kind, status, detail or "permanent error", ((address, address),),
                   (address, *reasons))
