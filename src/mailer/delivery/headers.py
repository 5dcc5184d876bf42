"""Header lines written by hand, as RFC 5322 and RFC 2047 want them.

They are on the per-subscriber path, and the standard library would fold List-Unsubscribe into
encoded words that mail clients do not decode in that header. The rules are few: RFC 2047 ``B``
encoded words for anything not plain ASCII, quoted strings for display names with specials,
folding at spaces before 78 columns, and CR or LF anywhere refused.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote

from mailer.errors import HeaderInjection, InvalidRecipient

CRLF = "\r\n"
MAX_LINE = 998  # RFC 5322 2.1.1: octets per line, without CRLF (a MUST)
FOLD_AT = 78  # RFC 5322 2.1.1: header lines SHOULD be no longer

_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]|=\?")  # not printable ASCII, or like an encoded word
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322 specials: a display name gets quoted
_ADDR_SPEC = re.compile(  # dot-atom local part @ host name: what email-validator lets through
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: 56 base64 characters, 68 with "=?utf-8?b??="
_LONGEST_PLAIN = 900  # a longer run without a space is encoded, so it can fold under 998


def check_header(value: str, what: str) -> str:
    """``value`` unchanged; HeaderInjection if it holds a line break."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{what} contains a line break: {value!r}")
    return value


def encoded_words(text: str) -> list[str]:
    """RFC 2047 ``B`` encoded words; each holds whole characters, as RFC 2047 6.3 asks."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = start + _WORD_BYTES
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{chunk}?=")
        start = end
    return words


def _plain_words(text: str) -> list[str] | None:
    """``text`` split at spaces if it can go into a header as it is, else None."""
    if _NEEDS_ENCODING.search(text):
        return None
    words = text.split(" ")
    return words if max(map(len, words)) <= _LONGEST_PLAIN else None


def quoted(text: str) -> str:
    """A display name as RFC 5322 reads it: a quoted string if it holds specials."""
    if _SPECIALS.search(text):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return text


def _phrase(text: str) -> list[str]:
    """A display name as header words: atoms, a quoted string, or encoded words."""
    if _plain_words(text) is None:
        return encoded_words(text)
    return quoted(text).split(" ")


def fold(name: str, words: Iterable[str]) -> str:
    """``Name: word word ...`` with a line break before any word that would pass column 78.

    Folding only turns a space into CRLF + space, so unfolding gives back the exact value.
    """
    lines = []
    line = f"{name}:"
    first = True
    for word in words:
        if word and not first and len(line) + 1 + len(word) > FOLD_AT:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
        first = False
    lines.append(line)
    return CRLF.join(lines)


@lru_cache(maxsize=64)
def unstructured(name: str, value: str) -> str:
    """``Name: value`` for Subject and the like (cached: most copies share their subject)."""
    return fold(name, _plain_words(value) or encoded_words(value))


def unfold(line: str) -> str:
    """The value of a header line written by :func:`fold`, on one line (for an ESP's API)."""
    return line.partition(": ")[2].replace(CRLF, "")


def mailbox(name: str, display_name: str, address: str) -> str:
    """``Name: display name <address>``, or just the address when there is no name."""
    if not display_name:
        return f"{name}: {address}"
    return fold(name, [*_phrase(display_name), f"<{address}>"])


def idna_address(address: str) -> str | None:
    """``address`` with its domain as IDNA A-labels (``user@xn--bcher-kva.de``).

    None when the local part itself is not ASCII (only SMTPUTF8 can carry that);
    InvalidRecipient when it is not an address a message can be sent to. The same conversion
    serves the message's headers and the SMTP envelope (email-validator, IDNA 2008).
    """
    if address.isascii():
        if _ADDR_SPEC.fullmatch(address):
            return address
        raise InvalidRecipient(f"not an address a message can be sent to: {address!r}")
    # Imported here: only internationalised addresses get this far, and email-validator (with
    # its DNS library) would add ~20 ms to the start of every command.
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError as exc:
        raise InvalidRecipient(
            f"not an address a message can be sent to: {address!r} ({exc})"
        ) from None


def envelope_address(address: str) -> str:
    """``address`` with its domain as IDNA (A-labels), as the message's headers have it.

    ``user@bücher.de`` becomes ``user@xn--bcher-kva.de``, which any server takes. An address
    that stays non-ASCII needs SMTPUTF8; one that is no address at all goes as it is, and the
    server says what it makes of it.
    """
    try:
        return idna_address(address) or address
    except InvalidRecipient:
        return address


def wire_address(address: str) -> str:
    """``address`` as it can stand in a header: checked, its domain in ASCII if need be."""
    converted = idna_address(address)
    if converted is None:
        raise InvalidRecipient(
            f"{address!r} has a non-ASCII local part, which needs SMTPUTF8 (not supported)"
        )
    return converted


def filename_param(filename: str) -> str:
    """``filename="..."``, or RFC 2231 ``filename*=utf-8''...`` when it is not plain ASCII."""
    if _NEEDS_ENCODING.search(filename) or '"' in filename or "\\" in filename:
        return f"filename*=utf-8''{quote(filename, safe='')}"
    return f'filename="{filename}"'
