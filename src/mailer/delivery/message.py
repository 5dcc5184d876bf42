"""Rendered issue + subscriber -> the exact bytes that subscriber receives.

Everything that is the same for every subscriber is prepared once in :class:`MessageFactory`:
the static headers, the MIME skeleton, the base64 images, and the HTML and text already
quoted-printable encoded between their merge fields (:mod:`mailer.delivery.body`). Per
subscriber only the merge values, the unsubscribe link and four headers are encoded
(:mod:`mailer.delivery.headers`), and the message is one ``bytes.join``.

``tests/reference_message.py`` builds the same message with ``email.message.EmailMessage``;
``tests/test_message.py`` proves the two parse to the same headers and parts.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Protocol

from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.audience.verp import Verp
from mailer.compose.images import InlineImage
from mailer.compose.merge import PREFERENCES_KEY, UNSUBSCRIBE_KEY, FillIn
from mailer.compose.render import RenderedIssue
from mailer.delivery.body import EncodedBody, as_body, base64_lines, part_head
from mailer.delivery.dkim import DkimSigner
from mailer.delivery.headers import (
    CRLF,
    MAX_LINE,
    check_header,
    filename_param,
    mailbox,
    quoted,
    unfold,
    unstructured,
    wire_address,
)
from mailer.delivery.message_ids import message_id_for, message_id_for_test_copy
from mailer.errors import InvalidRecipient, MessageError
from mailer.fields import domain_of
from mailer.settings import UnsubscribeMode

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
TEST_PREFIX = "[TEST] "  # the subject of a test copy (``mailer send --to``) starts with it


@dataclass(frozen=True)
class Letterhead:
    """Who sends the issue and to which list: the same in every copy."""

    issue_id: str
    sender_name: str
    sender_address: str
    reply_to: str | None
    list_name: str  # for List-Id; the organisation's name when the list has none
    list_id: str  # RFC 2919, such as "newsletter.turkiye.iom.int"
    language: str  # Content-Language
    unsubscribe: UnsubscribeMode = "web"  # [list] unsubscribe: who answers the reader


class Recipient(Protocol):
    @property
    def email(self) -> str: ...  # read-only: a frozen subscriber or ledger row is one
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...  # its edition's, when it has no row saying which

    def merge_data(self) -> dict[str, str]: ...


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
    list_id_header: str  # as the header carries it: encoded words for a non-ASCII name
    language: str
    date: str  # RFC 5322 date, the same in every copy
    images: tuple[InlineImage, ...]
    # "web": our https link and RFC 8058 one-click; "mailto": only the mailto; "esp": the
    # ESP's own link and headers, none of ours (an ESP transport writes its placeholder).
    unsubscribe: UnsubscribeMode = "web"

    @property
    def one_click(self) -> bool:
        """Whether copies carry ``List-Unsubscribe-Post`` (an https target to post to)."""
        return self.unsubscribe == "web"


@dataclass(frozen=True, slots=True)
class Personalisation:
    """What is particular to one subscriber's copy."""

    email: str
    name: str
    message_id: str  # without angle brackets
    values: Mapping[str, str]  # merge-field key -> value (raw text)
    unsubscribe_url: str | None  # the https target ("web"), signed for this reader
    unsubscribe_mailto: str | None
    envelope_sender: str | None = None  # VERP: bounces+TOKEN@..., when [bounces] is set

    @property
    def list_unsubscribe(self) -> str:
        """The List-Unsubscribe header's value; empty when the ESP writes its own."""
        targets = [t for t in (self.unsubscribe_url, self.unsubscribe_mailto) if t]
        return ", ".join(f"<{target}>" for target in targets)


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

    @property
    def envelope_sender(self) -> str:
        """MAIL FROM: the VERP address when there is one, else the sender's address."""
        return self.personalisation.envelope_sender or self.content.sender_address


class MessageFactory:
    """Built once per issue; :meth:`build` makes one subscriber's message."""

    def __init__(
        self,
        letterhead: Letterhead,
        rendered: RenderedIssue,
        images: tuple[InlineImage, ...],
        unsubscribe: UnsubscribeLinks,
        *,
        esp_link: str = "",
        signer: DkimSigner | None = None,
        verp: Verp | None = None,
        date: str | None = None,
    ) -> None:
        """``esp_link``: when the ESP answers unsubscribes, the placeholder its API fills with
        each reader's own link (what the footer shows in a preview)."""
        self._merge = rendered.merge_fields
        self._unsubscribe = unsubscribe
        self._mode = letterhead.unsubscribe
        self._esp_link = esp_link
        self._signer = signer
        self.verp = verp
        self._domain = domain_of(letterhead.sender_address)
        sender_name = check_header(letterhead.sender_name, "sender name")
        list_name = check_header(letterhead.list_name, "list name")
        list_id = check_header(letterhead.list_id, "list id")
        from_line = mailbox("From", sender_name, wire_address(letterhead.sender_address))
        list_id_line = mailbox("List-Id", list_name, list_id)
        self.content = SharedContent(
            issue_id=letterhead.issue_id,
            from_header=from_line.partition(": ")[2],
            sender_address=letterhead.sender_address,
            sender_name=sender_name,
            reply_to=letterhead.reply_to,
            subject=FillIn.of(rendered.subject, escape_html=False),
            html=FillIn.of(as_body(rendered.html), escape_html=True),
            text=FillIn.of(as_body(rendered.text), escape_html=False),
            list_id=f"{quoted(list_name)} <{list_id}>",
            list_id_header=unfold(list_id_line),
            language=letterhead.language,
            date=date or format_datetime(datetime.now(UTC)),
            images=images,
            unsubscribe=letterhead.unsubscribe,
        )
        self._test_content = replace(
            self.content, subject=FillIn.of(TEST_PREFIX + rendered.subject, escape_html=False)
        )
        self._text = EncodedBody(self.content.text)
        self._html = EncodedBody(self.content.html)
        self._skeleton = _Skeleton(self.content, list_id_line)

    def edition_of(self, reader: Recipient) -> str | None:
        """Every reader gets this factory's issue: the default edition (see EditionFactory)."""
        return None

    def personalise(self, recipient: Recipient, *, test: bool = False) -> Personalisation:
        email = check_header(recipient.email, "recipient address")
        name = check_header(recipient.name or "", "recipient name").strip()
        wire_address(email)  # refuse it now, before a transport or ledger sees it
        values = self._merge.values(recipient.merge_data())
        url, mailto, preferences = self._targets(email)
        values[UNSUBSCRIBE_KEY] = url or mailto or self._esp_link
        if preferences:
            values[PREFERENCES_KEY] = preferences
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
            envelope_sender=(
                self.verp.envelope(self.content.issue_id, email)
                if self.verp is not None and not test else None
            ),
        )

    def _targets(self, email: str) -> tuple[str | None, str | None, str | None]:
        """The https and mailto targets this issue's mode offers ``email``: both (web, the
        mailto when there is one), the mailto alone, or none (the ESP's own); and the
        preference page when the list has one."""
        url, mailto, preferences = self._unsubscribe.links(email)
        if self._mode == "esp":
            return None, None, preferences
        return (None, mailto, preferences) if self._mode == "mailto" else (url, mailto,
                                                                            preferences)

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
        subject = check_header(content.subject.fill(p.values), "subject")
        unsubscribe = p.list_unsubscribe
        if len(unsubscribe) > MAX_LINE - len("List-Unsubscribe: "):
            raise InvalidRecipient(f"the unsubscribe link for {p.email} is too long for a header")
        unsubscribe = unsubscribe.replace(", ", "," + CRLF + " ")  # one target a line
        skeleton = self._skeleton
        head = (
            f"{skeleton.top}"
            f"{mailbox('To', p.name, wire_address(p.email))}{CRLF}"
            f"{unstructured('Subject', subject)}{CRLF}"
            f"Message-ID: <{p.message_id}>{CRLF}"
        )
        if unsubscribe:
            head += f"List-Unsubscribe: {unsubscribe}{CRLF}"
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
            lines.append(f"Reply-To: {wire_address(content.reply_to)}")
        lines.append(list_id_header)
        if content.one_click:
            lines.append(f"List-Unsubscribe-Post: {ONE_CLICK}")
        lines += [f"Content-Language: {content.language}", "MIME-Version: 1.0"]
        if content.images:
            lines += [
                f'Content-Type: multipart/related; type="multipart/alternative";{CRLF}'
                f' boundary="{related}"',
                "",
                f"--{related}",
            ]
        lines += [f'Content-Type: multipart/alternative; boundary="{alternative}"', ""]
        head = CRLF.join(lines) + CRLF
        self.before_text = f"{head}--{alternative}{CRLF}{part_head('text/plain')}".encode("ascii")
        self.before_html = f"{CRLF}--{alternative}{CRLF}{part_head('text/html')}".encode("ascii")
        tail = [f"{CRLF}--{alternative}--{CRLF}".encode("ascii")]
        for image in content.images:
            check_header(image.content_id, "image content id")
            tail.append((
                f"--{related}{CRLF}"
                f"Content-Type: {image.mime_type}{CRLF}"
                f"Content-Transfer-Encoding: base64{CRLF}"
                f"Content-Disposition: inline; {filename_param(image.filename)}{CRLF}"
                f"Content-ID: <{image.content_id}>{CRLF}{CRLF}"
            ).encode("ascii"))
            tail.append(base64_lines(image.path.read_bytes()))
        if content.images:
            tail.append(f"--{related}--{CRLF}".encode("ascii"))
        self.after_html = b"".join(tail)
        for static in (self.top.encode(), self.before_text, self.before_html, self.after_html):
            if any(len(line) > MAX_LINE for line in static.split(b"\r\n")):
                raise MessageError("a header in the settings is too long for an email header line")
