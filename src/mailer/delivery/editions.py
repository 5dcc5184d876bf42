"""Each reader's copy from the edition in their language.

:class:`EditionFactory` stands where a :class:`~mailer.delivery.message.MessageFactory` stands
(the campaign, a dry run, test copies): it holds one factory per edition and builds each
reader's message with the factory of their edition. A ledger row carries the edition it was
queued with, so a resumed send builds the same edition again; a reader not yet in the ledger
is routed by their ``language`` (see :meth:`mailer.compose.editions.Editions.route`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeGuard

from mailer.compose.editions import normalise_tag
from mailer.delivery.message import MessageFactory, OutgoingMessage, Recipient, SharedContent

if TYPE_CHECKING:  # not imported: ``mailer preview`` has no ledger (and no need of SQLite)
    from mailer.delivery.ledger import LedgerRecipient


class EditionFactory:
    """The message factories of an issue's editions, by language tag."""

    def __init__(
        self, factories: Mapping[str, MessageFactory], default: str, route: Callable[[str], str]
    ) -> None:
        """``default`` is the default edition's tag (the issue's own ``language``), whose
        factory also stands for the issue (its id, sender, VERP); ``route`` maps a reader's
        language to the tag of their edition."""
        self._factories = {normalise_tag(tag): factory for tag, factory in factories.items()}
        self._default = normalise_tag(default)
        self._route = route
        self._by_language: dict[str, str] = {}  # a reader's language -> their edition's tag
        self.tag_set = frozenset(self._factories)
        first = self._factories.get(default) or next(iter(self._factories.values()))
        self.content: SharedContent = first.content  # the id and sender
        self.verp = first.verp

    @property
    def tags(self) -> list[str]:
        """The editions this factory builds, as the ledger keeps them (normalised tags)."""
        return list(self._factories)

    def edition_of(self, reader: Recipient) -> str | None:
        """The tag of ``reader``'s edition, as the ledger keeps it (None: the default)."""
        tag = self.tag_for(reader)
        return None if tag == self._default else tag

    def tag_for(self, reader: Recipient) -> str:
        """The edition ``reader`` gets: the one their ledger row names, else by language."""
        if _is_ledger_row(reader):  # the edition it was queued with
            queued = reader.edition or self._default
            if queued in self._factories:
                return queued
        return self.tag_for_language(reader.language)

    def tag_for_language(self, language: str) -> str:
        """The edition of a reader of ``language`` (routed once per language, not per reader)."""
        tag = self._by_language.get(language)
        if tag is None:
            tag = self._by_language[language] = normalise_tag(self._route(language))
        return tag

    def build(
        self, recipient: Recipient, *, test: bool = False, mime: bool = True
    ) -> OutgoingMessage:
        # A send narrowed to some editions has only their readers (see the plan's audience).
        return self._factories[self.tag_for(recipient)].build(recipient, test=test, mime=mime)


def _is_ledger_row(reader: Recipient) -> TypeGuard[LedgerRecipient]:
    """Whether ``reader`` is a row of the send ledger, asked without importing the ledger:
    while it is not imported, no reader can come from it."""
    ledger = sys.modules.get("mailer.delivery.ledger")
    return ledger is not None and isinstance(reader, ledger.LedgerRecipient)
