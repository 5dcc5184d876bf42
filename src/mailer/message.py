"""Rendered issue + subscriber -> the exact bytes that subscriber receives.

Everything that is the same for every subscriber (the MIME skeleton, encoded images, static
headers, the split HTML and text) is prepared once in :class:`MessageFactory`. Per subscriber only
the merge fields, the unsubscribe link and a few headers change, so building a message is a few
string joins and one quoted-printable pass. ``tests/test_message.py`` proves the result parses to
the same message the standard library's ``EmailMessage`` would build.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Protocol

import dkim

from mailer.errors import MailerError
from mailer.images import InlineImage
from mailer.issue import LoadedIssue
from mailer.merge import UNSUBSCRIBE_KEY, FillIn
from mailer.render import RenderedIssue
from mailer.unsubscribe import UnsubscribeLinks

CRLF = "\r\n"
MAX_LINE = 998  # RFC 5322 section 2.1.1, in octets, without CRLF


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
    """What every subscriber's copy of one issue shares; ESP transports batch on this."""

    issue_id: str
    from_header: str
    sender_address: str
    sender_name: str
    reply_to: str | None
    subject: FillIn
    html: FillIn
    text: FillIn
    list_id: str
    language: str
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


def _check_header(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{what} contains a line break: {value!r}")
    return value


def _encode_header(name: str, value: str) -> str:
    """``Name: value`` folded at 78 columns, RFC 2047 encoded when not ASCII."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}"


def _address(name: str, email: str) -> str:
    return formataddr((name, email), charset="utf-8")


def message_id_for(issue_id: str, email: str, domain: str) -> str:
    """Deterministic per (issue, subscriber): a resent copy carries the same Message-ID."""
    digest = hashlib.sha256(f"{issue_id}\0{email.lower()}".encode()).hexdigest()[:24]
    return f"{issue_id}.{digest}@{domain}"


def _quoted_printable(text: str) -> bytes:
    body = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return body.replace(b"\n", b"\r\n")


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.encodebytes(data)  # 76-character lines ending in \n
    return encoded.replace(b"\n", b"\r\n")


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
        list_name = settings.list.name or loaded.brand.organisation
        self.content = SharedContent(
            issue_id=loaded.issue.id,
            from_header=_address(_check_header(sender.name, "sender name"), sender.address),
            sender_address=sender.address,
            sender_name=sender.name,
            reply_to=sender.reply_to,
            subject=FillIn.of(rendered.subject, escape_html=False),
            html=FillIn.of(rendered.html, escape_html=True),
            text=FillIn.of(rendered.text, escape_html=False),
            list_id=f"{list_name} <{settings.list.id}>",
            language=loaded.issue.language,
            images=images,
        )
        self._static_headers = self._headers_for_all(date or format_datetime(datetime.now(UTC)))
        self._boundary = f"=_mailer_{secrets.token_hex(12)}"
        self._related_tail = self._encode_images()

    def _headers_for_all(self, date: str) -> str:
        content = self.content
        lines = [f"From: {content.from_header}", f"Date: {date}"]
        if content.reply_to:
            lines.append(f"Reply-To: {content.reply_to}")
        lines += [
            _encode_header("List-Id", content.list_id),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            f"Content-Language: {content.language}",
            "MIME-Version: 1.0",
        ]
        return CRLF.join(lines) + CRLF

    def _encode_images(self) -> bytes:
        parts = []
        for image in self.content.images:
            head = (
                f"--{self._boundary}{CRLF}"
                f"Content-Type: {image.mime_type}{CRLF}"
                f"Content-Transfer-Encoding: base64{CRLF}"
                f'Content-Disposition: inline; filename="{image.filename}"{CRLF}'
                f"Content-ID: <{image.content_id}>{CRLF}{CRLF}"
            )
            parts.append(head.encode("ascii") + _base64_lines(image.path.read_bytes()))
        return b"".join(parts) + f"--{self._boundary}--{CRLF}".encode("ascii")

    def personalise(self, recipient: Recipient) -> Personalisation:
        email = _check_header(recipient.email, "recipient address")
        name = _check_header(recipient.name or "", "recipient name")
        values = self._merge.values(recipient.merge_data())
        url = self._unsubscribe.url(email)
        values[UNSUBSCRIBE_KEY] = url
        return Personalisation(
            email=email,
            name=name,
            message_id=message_id_for(self.content.issue_id, email, self._domain),
            values=values,
            unsubscribe_url=url,
            unsubscribe_mailto=self._unsubscribe.mailto(email),
        )

    def build(self, recipient: Recipient, *, subject_prefix: str = "") -> OutgoingMessage:
        personalisation = self.personalise(recipient)
        return OutgoingMessage(
            self.content, personalisation, self.to_bytes(personalisation, subject_prefix)
        )

    def to_bytes(self, p: Personalisation, subject_prefix: str = "") -> bytes:
        content = self.content
        subject = _check_header(subject_prefix + content.subject.fill(p.values), "subject")
        headers = (
            f"To: {_address(p.name, p.email)}{CRLF}"
            f"{_encode_header('Subject', subject)}{CRLF}"
            f"Message-ID: <{p.message_id}>{CRLF}"
            f"List-Unsubscribe: {p.list_unsubscribe.replace(', ', ',' + CRLF + ' ')}{CRLF}"
            + self._static_headers
        )
        alternative = f"=_alt{self._boundary[2:]}"
        body = b"".join((
            f"--{alternative}{CRLF}"
            f"Content-Type: text/plain; charset=utf-8{CRLF}"
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}".encode("ascii"),
            _quoted_printable(content.text.fill(p.values)),
            f"{CRLF}--{alternative}{CRLF}"
            f"Content-Type: text/html; charset=utf-8{CRLF}"
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}".encode("ascii"),
            _quoted_printable(content.html.fill(p.values)),
            f"{CRLF}--{alternative}--{CRLF}".encode("ascii"),
        ))
        if content.images:
            top = (
                f'Content-Type: multipart/related; type="multipart/alternative"; '
                f'boundary="{self._boundary}"{CRLF}{CRLF}'
                f"--{self._boundary}{CRLF}"
                f'Content-Type: multipart/alternative; boundary="{alternative}"{CRLF}{CRLF}'
            )
            data = (headers + top).encode("utf-8") + body + self._related_tail
        else:
            top = f'Content-Type: multipart/alternative; boundary="{alternative}"{CRLF}{CRLF}'
            data = (headers + top).encode("utf-8") + body
        if self._signer is not None:
            data = self._signer.sign(data)
        return data


class DkimSigner:
    """Signs a message with DKIM (dkimpy); the key file is named in settings."""

    HEADERS = (
        b"From", b"To", b"Subject", b"Date", b"Message-ID",
        b"List-Unsubscribe", b"List-Unsubscribe-Post",
    )

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        self._selector = selector.encode("ascii")
        self._domain = domain.encode("ascii")
        self._key = private_key

    def sign(self, data: bytes) -> bytes:
        signature = dkim.sign(
            data, self._selector, self._domain, self._key, include_headers=list(self.HEADERS)
        )
        return signature + data
