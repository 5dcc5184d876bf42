"""Rendered issue + subscriber -> the exact bytes that subscriber receives.

Everything that is the same for every subscriber is prepared once in :class:`MessageFactory`:
the static headers, the MIME skeleton, the base64 images, and the HTML and text already
quoted-printable encoded between their merge fields. Per subscriber only the merge values, the
unsubscribe link and four headers are encoded, and the message is one ``bytes.join``.

Encoding the text between merge fields once works because every piece ends in a soft line break
(``=`` CRLF), so the next piece, encoded on its own, starts at column 0 whatever came before.

Headers are written by hand too: they are on the per-subscriber path, and the standard library
would fold List-Unsubscribe into encoded words (see :mod:`reference_message`). The rules
are few: RFC 2047 ``B`` encoded words for anything not plain ASCII, quoted strings for display
names with specials, folding at spaces before 78 columns, and CR or LF anywhere refused.

:mod:`reference_message` builds the same message with ``email.message.EmailMessage``;
``tests/test_message.py`` proves the two parse to the same headers and parts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote

from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.compose.images import InlineImage
from mailer.compose.issue import LoadedIssue
from mailer.compose.merge import UNSUBSCRIBE_KEY, FillIn, lf_line_ends
from mailer.compose.render import RenderedIssue
from mailer.errors import MailerError

CRLF = "\r\n"
MAX_LINE = 998  # RFC 5322 2.1.1: octets per line, without CRLF (a MUST)
FOLD_AT = 78  # RFC 5322 2.1.1: header lines SHOULD be no longer
QP_LINE = 76  # RFC 2045 6.7: quoted-printable lines, including a soft break's "="
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
TEST_PREFIX = "[TEST] "  # the subject of a test copy (``mailer send --to``) starts with it


class Recipient(Protocol):
    email: str
    name: str

    def merge_data(self) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class SampleReader:
    """The subscriber a preview is personalised for."""

    email: str = "reader@example.org"
    name: str = "Ayşe Yılmaz"
    first_name: str = "Ayşe"
    last_name: str = "Yılmaz"
    language: str = "tr"

    def merge_data(self) -> dict[str, str]:
        return {
            "email": self.email, "name": self.name, "first_name": self.first_name,
            "last_name": self.last_name, "language": self.language,
        }


class HeaderInjection(MailerError):
    """A header value held a line break: refused, never passed through."""


class InvalidRecipient(MailerError):
    """This one recipient cannot get a message (the rest of the send goes on)."""


@dataclass(frozen=True)
class SharedContent:
    """What every subscriber's copy of one issue shares; ESP transports batch on this.

    ``html`` and ``text`` fill in to exactly what the message's two parts decode to (line ends
    as ``\\n``, ending in one).
    """

    issue_id: str
    from_header: str  # as written in the message: encoded words where needed
    sender_address: str
    sender_name: str
    reply_to: str | None
    subject: FillIn
    html: FillIn
    text: FillIn
    list_id: str  # the List-Id as a reader sees it: 'Name <id>', the name quoted if need be
    language: str
    date: str  # RFC 5322 date, the same in every copy
    images: tuple[InlineImage, ...]


@dataclass(frozen=True, slots=True)
class Personalisation:
    """What is particular to one subscriber's copy."""

    email: str
    name: str
    message_id: str  # without angle brackets
    values: Mapping[str, str]  # merge-field key -> value (raw text)
    unsubscribe_url: str
    unsubscribe_mailto: str | None

    @property
    def list_unsubscribe(self) -> str:
        targets = [f"<{self.unsubscribe_url}>"]
        if self.unsubscribe_mailto:
            targets.append(f"<{self.unsubscribe_mailto}>")
        return ", ".join(targets)


@dataclass(slots=True)
class OutgoingMessage:
    """One subscriber's finished message; ``data`` is the complete RFC 5322 message."""

    content: SharedContent
    personalisation: Personalisation
    data: bytes = field(repr=False)

    @property
    def recipient(self) -> str:
        return self.personalisation.email

    @property
    def message_id(self) -> str:
        return self.personalisation.message_id


def message_id_for(issue_id: str, email: str, domain: str) -> str:
    """Deterministic per (issue, subscriber): a resent copy carries the same Message-ID."""
    digest = hashlib.sha256(f"{issue_id}\0{email.lower()}".encode()).hexdigest()[:24]
    return f"{issue_id}.{digest}@{domain}"


def message_id_for_test_copy(issue_id: str, domain: str) -> str:
    """A new Message-ID for each test copy.

    Never the real copy's: a mail client (Gmail) would drop one of the two as a duplicate,
    and the outbox would write the test copy over the delivered file.
    """
    return f"{issue_id}.test.{secrets.token_hex(8)}@{domain}"


# --- Header values --------------------------------------------------------------------------

_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]|=\?")  # not printable ASCII, or like an encoded word
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322 specials: a display name gets quoted
_ADDR_SPEC = re.compile(  # dot-atom local part @ host name: what email-validator lets through
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: 56 base64 characters, 68 with "=?utf-8?b??="
_LONGEST_PLAIN = 900  # a longer run without a space is encoded, so it can fold under 998


def _check_header(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{what} contains a line break: {value!r}")
    return value


def _encoded_words(text: str) -> list[str]:
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


def _quoted(text: str) -> str:
    """A display name as RFC 5322 reads it: a quoted string if it holds specials."""
    if _SPECIALS.search(text):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return text


def _phrase(text: str) -> list[str]:
    """A display name as header words: atoms, a quoted string, or encoded words."""
    if _plain_words(text) is None:
        return _encoded_words(text)
    return _quoted(text).split(" ")


def _fold(name: str, words: Iterable[str]) -> str:
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
def _unstructured(name: str, value: str) -> str:
    """``Name: value`` for Subject and the like (cached: most copies share their subject)."""
    return _fold(name, _plain_words(value) or _encoded_words(value))


def _mailbox(name: str, display_name: str, address: str) -> str:
    """``Name: display name <address>``, or just the address when there is no name."""
    if not display_name:
        return f"{name}: {address}"
    return _fold(name, [*_phrase(display_name), f"<{address}>"])


def _wire_address(email: str) -> str:
    """``email`` as it can stand in a header: checked, its domain in ASCII (IDNA) if need be."""
    if email.isascii():
        if _ADDR_SPEC.fullmatch(email):
            return email
        raise InvalidRecipient(f"not an address a message can be sent to: {email!r}")
    # Imported here: only internationalised addresses get this far, and email-validator (with
    # its DNS library) would add ~20 ms to the start of every command.
    from email_validator import EmailNotValidError, validate_email

    try:
        ascii_email = validate_email(email, check_deliverability=False).ascii_email
    except EmailNotValidError as exc:
        raise InvalidRecipient(
            f"not an address a message can be sent to: {email!r} ({exc})"
        ) from None
    if ascii_email is None:
        raise InvalidRecipient(
            f"{email!r} has a non-ASCII local part, which needs SMTPUTF8 (not supported)"
        )
    return ascii_email


# --- Bodies ---------------------------------------------------------------------------------

# b2a_qp writes trailing whitespace as =20 after deciding where to break the line, which can
# leave 77 or 78 characters: break such a line once more, before the =20.
_OVERLONG_QP_LINE = re.compile(rb"(?m)^([^\n]{74,75})(=20|=09)$")


def _as_body(text: str) -> str:
    """Line ends as ``\\n`` and one at the end: what the part decodes to (as with set_content)."""
    text = lf_line_ends(text)
    return text if text.endswith("\n") else text + "\n"


def _quoted_printable(text: str, *, open_end: bool) -> bytes:
    """``text`` quoted-printable with CRLF line ends and no line over 76 characters.

    With ``open_end`` the result ends in a soft line break, so a next piece encoded on its own
    starts at column 0 and the pieces join into one correct body.
    """
    if not text:
        return b""
    if open_end and len(text) < QP_LINE and text.isascii() and text.isprintable() and (
        "=" not in text
    ):
        return text.encode("ascii") + b"=\r\n"  # the usual short value: nothing to encode
    data = lf_line_ends(text).encode("utf-8")  # a bare CR would pass b2a_qp unencoded
    if open_end:
        # A character after the end stops b2a_qp filling the last line to 76 (no room left for
        # the "=") and encoding a trailing space; before a soft break a space may stay.
        encoded = binascii.b2a_qp(data + b"!", istext=True)[:-1] + b"=\n"
    else:
        encoded = binascii.b2a_qp(data, istext=True)
    if b"=20\n" in encoded or b"=09\n" in encoded:
        encoded = _OVERLONG_QP_LINE.sub(rb"\1=\n\2", encoded)
    return encoded.replace(b"\n", b"\r\n")


class _EncodedBody:
    """A part's text quoted-printable encoded once, between its merge fields."""

    __slots__ = ("_fill_in", "_first", "_pieces")

    def __init__(self, fill_in: FillIn) -> None:
        literals = fill_in.parts[::2]
        encoded = [_quoted_printable(text, open_end=True) for text in literals[:-1]]
        encoded.append(_quoted_printable(literals[-1], open_end=False))
        self._fill_in = fill_in
        self._first = encoded[0]
        self._pieces = encoded[1:]

    def encode(self, values: Mapping[str, str], encoded: dict[str, bytes]) -> list[bytes]:
        """The encoded body for one subscriber, as pieces to join.

        ``encoded`` remembers each value's encoding for the message's other part: the same
        value often stands in several places, in both parts.
        """
        out = [self._first]
        for value, literal in zip(self._fill_in.filled_values(values), self._pieces, strict=True):
            piece = encoded.get(value)
            if piece is None:
                piece = encoded[value] = _quoted_printable(value, open_end=True)
            out.append(piece)
            out.append(literal)
        return out


def _base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")  # 76-character lines


def _filename_param(filename: str) -> str:
    """``filename="..."``, or RFC 2231 ``filename*=utf-8''...`` when it is not plain ASCII."""
    if _NEEDS_ENCODING.search(filename) or '"' in filename or "\\" in filename:
        return f"filename*=utf-8''{quote(filename, safe='')}"
    return f'filename="{filename}"'


def _part_head(content_type: str) -> str:
    return (
        f"Content-Type: {content_type}; charset=utf-8{CRLF}"
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )


# --- The factory ----------------------------------------------------------------------------


class MessageFactory:
    """Built once per issue; :meth:`build` makes one subscriber's message."""

    def __init__(
        self,
        loaded: LoadedIssue,
        rendered: RenderedIssue,
        images: tuple[InlineImage, ...],
        unsubscribe: UnsubscribeLinks,
        *,
        signer: DkimSigner | None = None,
        date: str | None = None,
    ) -> None:
        sender = loaded.sender
        settings = loaded.settings.settings
        self._merge = rendered.merge_fields
        self._unsubscribe = unsubscribe
        self._signer = signer
        self._domain = sender.address.rsplit("@", 1)[1]
        sender_name = _check_header(sender.name, "sender name")
        list_name = _check_header(settings.list.name or loaded.brand.organisation, "list name")
        list_id = _check_header(settings.list.id, "list id")
        from_line = _mailbox("From", sender_name, _wire_address(sender.address))
        self.content = SharedContent(
            issue_id=loaded.issue.id,
            from_header=from_line.partition(": ")[2],
            sender_address=sender.address,
            sender_name=sender_name,
            reply_to=sender.reply_to,
            subject=FillIn.of(rendered.subject, escape_html=False),
            html=FillIn.of(_as_body(rendered.html), escape_html=True),
            text=FillIn.of(_as_body(rendered.text), escape_html=False),
            list_id=f"{_quoted(list_name)} <{list_id}>",
            language=loaded.issue.language,
            date=date or format_datetime(datetime.now(UTC)),
            images=images,
        )
        self._test_content = replace(
            self.content, subject=FillIn.of(TEST_PREFIX + rendered.subject, escape_html=False)
        )
        self._text = _EncodedBody(self.content.text)
        self._html = _EncodedBody(self.content.html)
        self._skeleton = _Skeleton(self.content, _mailbox("List-Id", list_name, list_id))

    def personalise(self, recipient: Recipient, *, test: bool = False) -> Personalisation:
        email = _check_header(recipient.email, "recipient address")
        name = _check_header(recipient.name or "", "recipient name").strip()
        _wire_address(email)  # refuse it now, before a transport or ledger sees it
        values = self._merge.values(recipient.merge_data())
        url, mailto = self._unsubscribe.targets(email)
        values[UNSUBSCRIBE_KEY] = url
        return Personalisation(
            email=email,
            name=name,
            message_id=(
                message_id_for_test_copy(self.content.issue_id, self._domain) if test
                else message_id_for(self.content.issue_id, email, self._domain)
            ),
            values=values,
            unsubscribe_url=url,
            unsubscribe_mailto=mailto,
        )

    def build(
        self, recipient: Recipient, *, test: bool = False, mime: bool = True
    ) -> OutgoingMessage:
        """``recipient``'s message; ``test``: a ``[TEST]`` copy with a Message-ID of its own.

        Without ``mime`` the bytes are left empty: an ESP transport sends the content's parts
        and the personalisation, and building the MIME message would be wasted.
        """
        personalisation = self.personalise(recipient, test=test)
        return OutgoingMessage(
            self._test_content if test else self.content,
            personalisation,
            self.to_bytes(personalisation, test=test) if mime else b"",
        )

    def to_bytes(self, p: Personalisation, *, test: bool = False) -> bytes:
        content = self._test_content if test else self.content
        subject = _check_header(content.subject.fill(p.values), "subject")
        unsubscribe = p.list_unsubscribe
        if len(unsubscribe) > MAX_LINE - len("List-Unsubscribe: "):
            raise InvalidRecipient(f"the unsubscribe link for {p.email} is too long for a header")
        unsubscribe = unsubscribe.replace(", ", "," + CRLF + " ")  # one target a line
        skeleton = self._skeleton
        head = (
            f"{skeleton.top}"
            f"{_mailbox('To', p.name, _wire_address(p.email))}{CRLF}"
            f"{_unstructured('Subject', subject)}{CRLF}"
            f"Message-ID: <{p.message_id}>{CRLF}"
            f"List-Unsubscribe: {unsubscribe}{CRLF}"
        )
        encoded: dict[str, bytes] = {}
        data = b"".join((
            head.encode("ascii"),
            skeleton.before_text,
            *self._text.encode(p.values, encoded),
            skeleton.before_html,
            *self._html.encode(p.values, encoded),
            skeleton.after_html,
        ))
        if self._signer is not None:
            data = self._signer.sign(data)
        return data


class _Skeleton:
    """The bytes around the two bodies: static headers, MIME structure, encoded images."""

    __slots__ = ("after_html", "before_html", "before_text", "top")

    def __init__(self, content: SharedContent, list_id_header: str) -> None:
        related = f"=_related_{secrets.token_hex(12)}"  # "=_" never occurs in QP or base64
        alternative = f"=_alternative_{secrets.token_hex(12)}"
        self.top = f"From: {content.from_header}{CRLF}Date: {content.date}{CRLF}"  # then To...
        lines = []
        if content.reply_to:
            lines.append(f"Reply-To: {_wire_address(content.reply_to)}")
        lines += [
            list_id_header,
            f"List-Unsubscribe-Post: {ONE_CLICK}",
            f"Content-Language: {content.language}",
            "MIME-Version: 1.0",
        ]
        if content.images:
            lines += [
                f'Content-Type: multipart/related; type="multipart/alternative";{CRLF}'
                f' boundary="{related}"',
                "",
                f"--{related}",
            ]
        lines += [f'Content-Type: multipart/alternative; boundary="{alternative}"', ""]
        head = CRLF.join(lines) + CRLF
        self.before_text = f"{head}--{alternative}{CRLF}{_part_head('text/plain')}".encode("ascii")
        self.before_html = f"{CRLF}--{alternative}{CRLF}{_part_head('text/html')}".encode("ascii")
        tail = [f"{CRLF}--{alternative}--{CRLF}".encode("ascii")]
        for image in content.images:
            _check_header(image.content_id, "image content id")
            tail.append((
                f"--{related}{CRLF}"
                f"Content-Type: {image.mime_type}{CRLF}"
                f"Content-Transfer-Encoding: base64{CRLF}"
                f"Content-Disposition: inline; {_filename_param(image.filename)}{CRLF}"
                f"Content-ID: <{image.content_id}>{CRLF}{CRLF}"
            ).encode("ascii"))
            tail.append(_base64_lines(image.path.read_bytes()))
        if content.images:
            tail.append(f"--{related}--{CRLF}".encode("ascii"))
        self.after_html = b"".join(tail)
        for static in (self.top.encode(), self.before_text, self.before_html, self.after_html):
            if any(len(line) > MAX_LINE for line in static.split(b"\r\n")):
                raise MailerError("a header in the settings is too long for an email header line")


class DkimSigner:
    """Signs a message with DKIM (dkimpy); the key file is named in settings."""

    HEADERS = (
        b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"List-Id",
        b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
    )

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        # Imported here: dkimpy and its DNS library cost ~40 ms of start-up to every command,
        # and only sends with a DKIM key need them.
        import dkim

        self._sign = dkim.sign
        self._selector = selector.encode("ascii")
        self._domain = domain.encode("ascii")
        self._key = private_key

    def sign(self, data: bytes) -> bytes:
        signature = self._sign(
            data, self._selector, self._domain, self._key, include_headers=list(self.HEADERS)
        )
        return signature + data
