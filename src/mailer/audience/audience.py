"""Who an issue goes to: the subscribers file minus the list's store.

The store is read once, into a table of keys (16 bytes an address), so no query runs per
subscriber; erased addresses are tested by their keyed hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mailer.audience.store import SuppressionStore
from mailer.audience.subscribers import SkippedRow, Subscriber, SubscriberReader, address_key


class Audience:
    """Who an issue goes to: the subscribers file minus the suppression store.

    Iterating yields subscribers; the counts are complete once it ends. The store is read
    once, into a table of keys (16 bytes an address), so no query runs per subscriber.
    """

    def __init__(
        self, reader: SubscriberReader, store: SuppressionStore,
        wanted: Callable[[str], bool] = lambda language: True,
    ) -> None:
        """``wanted`` says by a reader's language whether this send is for them (a send of
        some editions only); the others are counted in :attr:`elsewhere`."""
        self.reader = reader
        self.store = store
        self.wanted = wanted
        self.subscribed = 0  # yielded: to be written to
        self.suppressed = 0
        self.elsewhere = 0  # readers of editions this send does not send

    def __iter__(self) -> Iterator[Subscriber]:
        self.subscribed = self.suppressed = self.elsewhere = 0
        suppressed = self.store.keys()
        forgotten = self.store.forgotten_test()
        for subscriber in self.reader:
            if suppressed.get(address_key(subscriber.email.lower())) is not None or (
                forgotten is not None and subscriber.email in forgotten
            ):
                self.suppressed += 1
                continue
            if not self.wanted(subscriber.language):
                self.elsewhere += 1
                continue
            self.subscribed += 1
            yield subscriber

    @property
    def unsubscribed(self) -> int:
        return self.reader.unsubscribed

    @property
    def duplicates(self) -> int:
        return self.reader.duplicates

    @property
    def skipped(self) -> int:
        return self.reader.skipped_count

    @property
    def skipped_rows(self) -> list[SkippedRow]:
        return self.reader.skipped

    @property
    def warnings(self) -> list[str]:
        return self.reader.warnings

    @property
    def warning_count(self) -> int:
        return self.reader.warning_count
