"""Mail to the unsubscribe address: the ``mailto:`` target of every message's List-Unsubscribe.

The address to unsubscribe is the one the unsubscribe token names, never the sender of the
mail: a reader may write from another account, and a From line proves nothing. The issue is the
one the token names too (a token of the old format names none: then the issue of our Message-ID
in In-Reply-To or References, if the reader's client kept them). The token is looked for where
mail clients put it: in the To address (``unsubscribe+TOKEN@``), in the
Subject (``unsubscribe TOKEN``, from the mailto link) and in the body. Mail to that address
without a genuine token is left for a person.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailer.feedback.mailbox.fields import (
    Field,
    addresses,
    fields,
    first,
    lines_of,
    subject,
    text_of,
)
from mailer.feedback.mailbox.identify import by_unsubscribe_token, our_message, tokens_in
from mailer.feedback.mailbox.verdict import Finding, Incoming, Reader, Verdict

ADDRESSED = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
MAX_BODY = 100_000  # characters of each text part searched for a token
MAX_LINES = 20  # body lines with something token-shaped, each checked: bounded work


def judge(incoming: Incoming) -> Verdict | None:
    """``unsubscribe`` for mail to the unsubscribe address with a genuine token in it; None for
    mail not sent to that address."""
    mailto = incoming.lookups.unsubscribe_mailto
    message = incoming.message
    if not mailto:
        return None
    to = [field for name in ADDRESSED for field in fields(message, name)
          if any(_is(address, mailto) for address in addresses(field.value))]
    if not to:
        return None
    title = subject(message)
    places = [*to, *([title] if title else []), *_body_lines(message)]
    reader = by_unsubscribe_token(incoming.lookups, places)
    if reader is None:
        sender = first(message, "From")
        return incoming.verdict(
            "unknown", f"mail to {mailto} without a genuine unsubscribe token",
            lines_of([to[0], sender, title]),
        )
    about = our_message([*fields(message, "In-Reply-To"), *fields(message, "References")])
    if about:  # the token's issue, when it names one, is the one it was signed for
        reader = Reader(reader.address, reader.issue_id or about.issue_id,
                        (*reader.evidence, about.field.line), reader.how)
    finding = Finding(reader, "unsubscribed", f"mail to {mailto}", (),
                      about.message_id if about and about.issue_id == reader.issue_id else None)
    return incoming.verdict(
        "unsubscribe", f"mail to {mailto} for {reader.address} ({reader.how})", [to[0].line],
        [finding],
    )


def _is(address: str, mailto: str) -> bool:
    """Whether ``address`` is ``mailto``, or ``mailto`` with a ``+detail`` local part."""
    local, _, domain = address.lower().rpartition("@")
    want_local, _, want_domain = mailto.lower().rpartition("@")
    return domain == want_domain and (local == want_local or local.startswith(want_local + "+"))


def _body_lines(message: EmailMessage) -> list[Field]:
    """The body lines that hold something shaped like a token, as evidence lines."""
    found = []
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_attachment():
            for line in text_of(part)[:MAX_BODY].splitlines():
                if tokens_in(line):
                    found.append(Field("body", line.strip()))
    return found[:MAX_LINES]
