"""One message of the bounce mailbox in, one :class:`Verdict` out.

The judges are asked in a fixed order and the first that recognises the message decides:
delivery reports and abuse reports by their MIME structure, which nothing else has; Exim's
classic bounce by its exact wording; mail to the unsubscribe address with a genuine token; and
only then auto-replies, because bounces are marked ``auto-replied`` too, and so is Apple Mail's
unsubscribe message. Whatever none of them recognises, a reader's ordinary reply included, is
``unknown`` and is left where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.policy import EmailPolicy
from typing import cast

from mailer.audience.unsubscribe import Claims
from mailer.feedback.mailbox import arf, autoreply, dsn, exim, unsubscribe
from mailer.feedback.mailbox.fields import first, lines_of, subject
from mailer.feedback.mailbox.verdict import Incoming, Lookups, Verdict

JUDGES: tuple[Callable[[Incoming], Verdict | None], ...] = (
    dsn.judge, arf.judge, exim.judge, unsubscribe.judge, autoreply.judge,
)


class _PlainHeaders(EmailPolicy):
    """``policy.default`` with header values read as plain, unfolded, decoded text.

    The default parses a header into a structured object on every access, and the MIME parser
    asks for each part's Content-Type many times: 12 ms a delivery report, where the judges
    need only the text.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):  # already a parsed header
            return str(value)
        text = _FOLD.sub(" ", value).strip()
        if "=?" in text:
            text = str(make_header(decode_header(text)))
        return text


_FOLD = re.compile(r"\r?\n[ \t]+")
_READING = _PlainHeaders()


_RETURNED = re.compile(rb"(?im)^content-type:[ \t]*(message/(rfc822|global)|text/rfc822-headers)\b")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def parse(data: bytes) -> EmailMessage:
    """The message in ``data`` (as fetched from the mailbox), for :func:`classify`.

    Of the message a report returns (up to 50 KB of our newsletter, from Postfix) only its
    headers are read: the judges need nothing else, and parsing the rest cost most of the time.
    """
    end = _BLANK_LINE.search(data)
    top = BytesHeaderParser(policy=_READING).parsebytes(data[:end.start()] if end else data)
    boundary = top.get_param("boundary") if top.get_content_type() == "multipart/report" else None
    if isinstance(boundary, str) and boundary.isascii():
        data = _returned_headers_only(data, boundary.encode("ascii"))
    return cast(EmailMessage, BytesParser(policy=_READING).parsebytes(data))


def _returned_headers_only(data: bytes, boundary: bytes) -> bytes:
    """``data`` with the body of each returned message in the report cut off."""
    delimiter = b"\n--" + boundary
    parts = data.split(delimiter)
    for index, part in enumerate(parts[1:], start=1):
        head = _BLANK_LINE.search(part)
        if head is None or not _RETURNED.search(part, 0, head.start()):
            continue
        content = part[head.end():]
        returned = _BLANK_LINE.search(content)
        if returned is not None:
            parts[index] = part[:head.end()] + content[:returned.end()]
    return delimiter.join(parts)


def classify(
    message: EmailMessage,
    *,
    verp: Callable[[str], tuple[str, str] | None],
    unsubscribe: Callable[[str], Claims | None],
    unsubscribe_mailto: str | None,
    sent_to: Callable[[str | None, str], bool],
) -> Verdict:
    """What ``message`` is, the events to record for it, and the lines that show it.

    ``verp(token)`` maps the token of a ``bounces+TOKEN@`` return path to (issue id, recipient);
    ``unsubscribe(token)`` gives the address and issue a genuine unsubscribe token names;
    ``unsubscribe_mailto`` is the address of the mailto unsubscribe (None if there is none);
    ``sent_to(issue_id, address)`` says whether we sent that issue (any, for None) to address.
    A message that cannot be read at all is ``unknown``, with the reason: the run goes on.
    """
    incoming = Incoming.of(message, Lookups(verp, unsubscribe, unsubscribe_mailto, sent_to))
    try:
        for judge in JUDGES:
            verdict = judge(incoming)
            if verdict is not None:
                return verdict
    except Exception as exc:  # malformed mail can trip the email package anywhere: left alone
        return incoming.verdict("unknown", f"cannot be read ({type(exc).__name__}: {exc})")
    return incoming.verdict(
        "unknown", "not a bounce, complaint, unsubscribe or automatic reply",
        lines_of([first(message, "From"), subject(message)]),
    )
