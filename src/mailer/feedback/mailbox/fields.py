"""Header fields as a person would quote them: the name as written, the value on one line.

Verdicts are based on the raw field values, never on the parsed header objects of
``email.policy.default``: the fields of a delivery report (``Final-Recipient``, ``Status``) are
not RFC 5322 headers, bounces are often not valid mail, and the evidence must be what was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses

_FOLD = re.compile(r"\r?\n[ \t]+")
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")


@dataclass(frozen=True)
class Field:
    name: str  # as written in the message ("Diagnostic-Code", "Delivered-To", "X-Failed-...")
    value: str  # unfolded, on one line

    @property
    def line(self) -> str:
        return f"{self.name}: {self.value}"


def unfold(value: str) -> str:
    """``value`` on one line: each fold (a line break and its indent) becomes one space.

    Undecodable bytes (kept by the parser as surrogates) become U+FFFD, so that evidence can
    always be written out as UTF-8.
    """
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _FOLD.sub(" ", text).strip()


def fields(message: Message, name: str) -> list[Field]:
    """Every ``name`` field of ``message`` (or of a report's block), in order."""
    wanted = name.lower()
    return [Field(key, unfold(str(value))) for key, value in message.raw_items()
            if key.lower() == wanted]


def first(message: Message, name: str) -> Field | None:
    found = fields(message, name)
    return found[0] if found else None


def value(message: Message, name: str) -> str:
    """The first ``name`` field's value, or ``""``."""
    field = first(message, name)
    return field.value if field else ""


def addresses(text: str) -> list[str]:
    """The addresses in a header value (``Name <a@b>, c@d``), in order; no empty ones."""
    return [address for _, address in getaddresses([text]) if "@" in address]


def decoded(text: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (for Subject and the like)."""
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError):  # a bad encoded word or an unknown charset
        return text


def subject(message: Message) -> Field | None:
    """The Subject field with its encoded words decoded, as a mail client shows it."""
    field = first(message, "Subject")
    return Field(field.name, decoded(field.value)) if field else None


def header_block(text: str) -> Message:
    """One block of ``Name: value`` lines (text/rfc822-headers, a delivery report's block)."""
    return HeaderParser(policy=default_policy).parsestr(text.lstrip("\r\n"))


def header_blocks(text: str) -> list[Message]:
    """The blank-line separated blocks of a delivery report that was not parsed as one."""
    return [header_block(block) for block in _BLANK_LINE.split(text) if block.strip()]


def lines_of(found: Iterable[Field | None]) -> list[str]:
    """The evidence lines of the fields that are there, in order."""
    return [field.line for field in found if field is not None]


def text_of(part: Message) -> str:
    """A part's body as text, whatever its transfer encoding; bad bytes replaced."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):  # a multipart or message/* part has no body of its own
        data = b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset
        return data.decode("utf-8", "replace")
