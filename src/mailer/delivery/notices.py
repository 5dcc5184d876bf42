"""Single emails to one person outside any issue: a sign-up's confirmation email.

They go through the project's transport, as the newsletter does, but outside the campaign
ledger: nothing about them is counted as a send. Each is built by the newsletter's own
message factory, from a plain-text body and a small HTML one, with the list's sender and
List-Id, and without an unsubscribe link or header (the reader is not on the list yet);
each has a Message-ID of its own, so that a second confirmation email is not taken for a
copy of the first.

A notice's link is its one merge field: :class:`Notices` keeps the factory of each notice
(its headers, MIME skeleton and bodies encoded around the link) and fills in only the
recipient, the link and the Message-ID for each message. A factory dates its messages when
it is made, so a kept factory serves the second it was made in: the next second's messages
get a new one (at most one a second for each notice, against one a message).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

from markupsafe import Markup, escape

from mailer.audience.subscribers import Subscriber
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.compose.merge import MergeFields, token
from mailer.compose.render import RenderedIssue
from mailer.delivery.message import Letterhead, MessageFactory, OutgoingMessage
from mailer.delivery.message_ids import message_id_for
from mailer.delivery.transports import TransportFactory
from mailer.delivery.transports.base import RecipientResult
from mailer.fields import direction_of, domain_of
from mailer.settings import LoadedSettings

LINK_KEY = "link"  # the merge field of a notice's link
_LINK = token(LINK_KEY)


@dataclass(frozen=True)
class Notice:
    """What one kind of notice says: a subject, paragraphs, and (its own paragraph between
    them) the link each message fills in."""

    language: str
    subject: str
    paragraphs: tuple[str, ...]  # the text before the link
    after: tuple[str, ...] = ()  # the text after it

    def text(self) -> str:
        return "\n\n".join((*self.paragraphs, _LINK, *self.after)) + "\n"

    def html(self) -> str:
        direction = direction_of(self.language)
        paragraphs = [f"<p>{escape(p)}</p>" for p in self.paragraphs]
        paragraphs.append(f'<p><a href="{_LINK}">{_LINK}</a></p>')
        paragraphs += [f"<p>{escape(p)}</p>" for p in self.after]
        body = Markup("\n").join(Markup(p) for p in paragraphs)
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(self.language)}" dir="{direction}">\n'
            f'<head><meta charset="utf-8"><title>{escape(self.subject)}</title></head>\n'
            f"<body>\n{body}\n</body>\n</html>\n"
        )


class Notices:
    """The notices of one list, each factory kept for the second it dates its messages in.
    Safe to share between threads (two threads may make the same factory; either serves)."""

    def __init__(self, settings: LoadedSettings) -> None:
        listed = settings.settings.list
        sender = settings.settings.sender
        self._letterhead = Letterhead(
            issue_id="notice",
            sender_name=sender.name,
            sender_address=sender.address,
            reply_to=sender.reply_to,
            list_name=listed.name or settings.settings.brand.organisation,
            list_id=listed.id,
            language=listed.language,
            # "mailto" without an address: no List-Unsubscribe, no one-click header.
            unsubscribe="mailto",
        )
        self._domain = domain_of(sender.address)
        self._factories: dict[Notice, MessageFactory] = {}

    def message(self, to: str, name: str, notice: Notice, link: str) -> OutgoingMessage:
        """The message carrying ``notice`` with ``link`` to ``to``."""
        factory = self._factory(notice, format_datetime(datetime.now(UTC)))
        personal = factory.personalise(Subscriber(to, name=name))
        personal = replace(
            personal,
            # a Message-ID of its own, each time
            message_id=message_id_for(f"notice-{secrets.token_hex(8)}", personal.email,
                                      self._domain),
            values={**personal.values, LINK_KEY: link},
        )
        return OutgoingMessage(factory.content, personal, factory.to_bytes(personal))

    def _factory(self, notice: Notice, date: str) -> MessageFactory:
        factory = self._factories.get(notice)
        if factory is None or factory.content.date != date:
            letterhead = replace(self._letterhead, issue_id=f"notice-{secrets.token_hex(8)}",
                                 language=notice.language)
            rendered = RenderedIssue(notice.subject, "", notice.html(), notice.text(),
                                     MergeFields())
            factory = MessageFactory(letterhead, rendered, (), _no_links(letterhead.list_id),
                                     date=date)
            self._factories[notice] = factory
        return factory


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
