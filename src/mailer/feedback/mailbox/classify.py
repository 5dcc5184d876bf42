"""One message of the bounce mailbox in, one :class:`Verdict` out.

The judges are asked in a fixed order and the first that recognises the message decides:
delivery reports and abuse reports by their MIME structure, which nothing else has; Exim's
classic bounce by its exact wording; mail to the unsubscribe address with a genuine token; and
only then auto-replies, because bounces are marked ``auto-replied`` too, and so is Apple Mail's
unsubscribe message. Whatever none of them recognises, a reader's ordinary reply included, is
``unknown`` and is left where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from mailer.feedback.mailbox import arf, autoreply, dsn, exim, unsubscribe
from mailer.feedback.mailbox.fields import first, lines_of, subject
from mailer.feedback.mailbox.verdict import Incoming, Lookups, Verdict

JUDGES: tuple[Callable[[Incoming], Verdict | None], ...] = (
    dsn.judge, arf.judge, exim.judge, unsubscribe.judge, autoreply.judge,
)


def parse(data: bytes) -> EmailMessage:
    """The message in ``data`` (as fetched from the mailbox), for :func:`classify`."""
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def classify(
    message: EmailMessage,
    *,
    verp: Callable[[str], tuple[str, str] | None],
    unsubscribe: Callable[[str], str | None],
    unsubscribe_mailto: str | None,
    sent_to: Callable[[str | None, str], bool],
) -> Verdict:
    """What ``message`` is, the events to record for it, and the lines that show it.

    ``verp(token)`` maps the token of a ``bounces+TOKEN@`` return path to (issue id, recipient);
    ``unsubscribe(token)`` gives the address a genuine unsubscribe token was signed for;
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
