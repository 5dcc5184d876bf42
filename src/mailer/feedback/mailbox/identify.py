"""Who a report is about: the reader, found from what only we could have written.

In order of trust: the VERP token of the return path the report came back to (it names one
recipient of one issue), an unsubscribe token made for one address, and only then an address
the report itself names, accepted only if we did send to it (so a report about an address we
never wrote to, such as backscatter from forged mail, suppresses no one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from urllib.parse import unquote

from mailer.feedback.mailbox.fields import Field, addresses, fields, header_block, text_of
from mailer.feedback.mailbox.verdict import Lookups, Reader

# The return path of every copy is ``bounces+TOKEN@domain``; the token is lowercase base32, so
# that servers which lowercase local parts do not change it.
# Where the address a report was delivered to shows: Delivered-To and X-Original-To (Postfix,
# Dovecot LDA), Envelope-To (Exim); To is where the reporting server addressed it.
ENVELOPE_FIELDS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")

# mailer.delivery.message_ids: ``<issue_id>.<24 hex>@<domain>``.
_OUR_MESSAGE_ID = re.compile(r"(?P<issue>[^<>\s@]+)\.[0-9a-f]{24}@[^<>\s@]+")
_MESSAGE_IDS = re.compile(r"<([^<>\s]+)>|^\s*([^<>\s]+)\s*$")
# An unsubscribe token (mailer.audience.unsubscribe): 32 base64url characters or more (the
# 16-byte SIV, the issue and the address, encrypted; one format character or marker byte);
# or, in mail sent before,
# base64url(address) "." base64url(HMAC), whose signature part is 43 characters. So a domain
# name is never taken for one.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32,}|[A-Za-z0-9_-]{32,}")
_MAX_TOKENS = 20  # each is checked with an HMAC: bounded, whatever a message holds
RETURNED_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers",
                  "message/global-headers")


def by_verp(lookups: Lookups, found: Iterable[Field]) -> Reader | None:
    """The reader the first VERP address in ``found`` was made for."""
    for field in found:
        for address in addresses(field.value):
            sent = lookups.verp(address)
            if sent is not None:
                issue_id, recipient = sent
                return Reader(recipient, issue_id, (field.line,), "named by the return path")
    return None


def envelope(message: Message) -> list[Field]:
    """The fields that say which address ``message`` was delivered to."""
    return [field for name in ENVELOPE_FIELDS for field in fields(message, name)]


@dataclass(frozen=True)
class OurMessage:
    """Our Message-ID, found in a report (the message the report is about)."""

    message_id: str  # without angle brackets
    issue_id: str
    field: Field


def our_message(found: Iterable[Field]) -> OurMessage | None:
    """The first of our Message-IDs in ``found`` (Message-ID, In-Reply-To, References...)."""
    for field in found:
        for match in _MESSAGE_IDS.finditer(field.value):
            candidate = match.group(1) or match.group(2)
            ours = _OUR_MESSAGE_ID.fullmatch(candidate)
            if ours:
                return OurMessage(candidate, ours.group("issue"), field)
    return None


def returned_headers(report: EmailMessage) -> Message | None:
    """The header of the message a report returns (a DSN's or ARF's last part), if it does."""
    for part in report.iter_parts():
        kind = part.get_content_type()
        if kind not in RETURNED_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # message/rfc822: parsed as a message
            return payload[0] if payload and isinstance(payload[0], Message) else None
        return header_block(text_of(part))
    return None


def tokens_in(text: str) -> list[str]:
    """The strings in ``text`` that look like unsubscribe tokens, first ones first."""
    return list(dict.fromkeys(_TOKEN.findall(unquote(text))))[:_MAX_TOKENS]


def by_unsubscribe_token(lookups: Lookups, found: Iterable[Field]) -> Reader | None:
    """The reader the first genuine unsubscribe token in ``found`` names, with its issue (None
    for a token of the old format, which did not say)."""
    for field in found:
        for token in tokens_in(field.value):
            claims = lookups.unsubscribe(token)
            if claims is not None:
                return Reader(claims.address, claims.issue, (field.line,),
                              "named by an unsubscribe token")
    return None


def by_sent_to(
    lookups: Lookups, issue_id: str | None, named: Iterable[tuple[str, str]]
) -> Reader | None:
    """The first address a report names (each with its line) that we did send (this issue, if
    known) to."""
    for line, address in named:
        if address and lookups.sent_to(issue_id, address):
            return Reader(address, issue_id, (line,), "named in the report; we sent to it")
    return None
