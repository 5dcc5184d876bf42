"""Single emails to one person outside any issue: a sign-up's confirmation email.

They go through the project's transport, as the newsletter does, but outside the campaign
ledger: nothing about them is counted as a send. Each is built by the newsletter's own
message factory, from a plain-text body and a small HTML one, with the list's sender and
List-Id, and without an unsubscribe link or header (the reader is not on the list yet);
each has a Message-ID of its own, so that a second confirmation email is not taken for a
copy of the first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from mailer.audience.subscribers import Subscriber
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.compose.merge import MergeFields
from mailer.compose.render import RenderedIssue
from mailer.delivery.message import Letterhead, MessageFactory, OutgoingMessage
from mailer.delivery.transports import TransportFactory
from mailer.delivery.transports.base import RecipientResult
from mailer.fields import direction_of
from mailer.settings import LoadedSettings


@dataclass(frozen=True)
class Notice:
    """What one notice says: a subject, paragraphs, and a link (its own paragraph)."""

    language: str
    subject: str
    paragraphs: tuple[str, ...]  # the text before the link
    link: str
    after: tuple[str, ...] = ()  # the text after it

    def text(self) -> str:
        return "\n\n".join((*self.paragraphs, self.link, *self.after)) + "\n"

    def html(self) -> str:
        direction = direction_of(self.language)
        paragraphs = [f"<p>{escape(p)}</p>" for p in self.paragraphs]
        paragraphs.append(f'<p><a href="{escape(self.link)}">{escape(self.link)}</a></p>')
        paragraphs += [f"<p>{escape(p)}</p>" for p in self.after]
        body = Markup("\n").join(Markup(p) for p in paragraphs)
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(self.language)}" dir="{direction}">\n'
            f'<head><meta charset="utf-8"><title>{escape(self.subject)}</title></head>\n'
            f"<body>\n{body}\n</body>\n</html>\n"
        )


def notice_message(settings: LoadedSettings, to: str, name: str, notice: Notice) -> OutgoingMessage:
    """The message carrying ``notice`` to ``to``."""
    listed = settings.settings.list
    sender = settings.settings.sender
    letterhead = Letterhead(
        issue_id=f"notice-{secrets.token_hex(8)}",  # a Message-ID of its own, each time
        sender_name=sender.name,
        sender_address=sender.address,
        reply_to=sender.reply_to,
        list_name=listed.name or settings.settings.brand.organisation,
        list_id=listed.id,
        language=notice.language,
        # "mailto" without an address: no List-Unsubscribe, no one-click header.
        unsubscribe="mailto",
    )
    rendered = RenderedIssue(notice.subject, "", notice.html(), notice.text(), MergeFields())
    factory = MessageFactory(letterhead, rendered, (), _no_links(listed.id))
    return factory.build(Subscriber(to, name=name))


@lru_cache(maxsize=4)
def _no_links(list_id: str) -> UnsubscribeLinks:
    """Links with no target: a notice carries no unsubscribe link (made once: deriving its
    key costs as much as building the message)."""
    return UnsubscribeLinks("notices carry no unsubscribe link", list_id, None, None)


def send_notice(transport: TransportFactory, message: OutgoingMessage) -> RecipientResult:
    """Send one notice; its result (TransportError when the transport cannot work at all)."""
    opened = transport()
    try:
        (result,) = opened.send([message])
    finally:
        opened.close()
    return opened.scrub(result)
