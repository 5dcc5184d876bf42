"""Who an issue goes to: the subscribers file and the confirmed sign-ups, minus the list's
store's suppressions, narrowed by the issue's segment, one message per address.

The CSV is read first, row by row; a reader who chose a language or topics (a sign-up's
form, the preference page) gets their choice over the CSV's. Then the confirmed sign-ups not
in the CSV are read from the store in pages (one the CSV marks unsubscribed is left out).
The store is read once into tables of keys (about 13 bytes an address): the suppressed
addresses, and the addresses with choices of their own, each marked once the CSV had it; so
no query runs per subscriber but one per reader with a choice of their own in the CSV, and a
sign-up costs the send 13 bytes, however long the list. Erased addresses are tested by their keyed
hash. Every reader, whichever list they come from, passes the one :class:`Segment` test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mailer.audience.signups import Signups
from mailer.audience.store import SuppressionStore
from mailer.audience.subscribers import SkippedRow, Subscriber, SubscriberReader, address_key
from mailer.fields import topic_key

if TYPE_CHECKING:
    from mailer.compose.issue import Issue

IN_CSV = 2  # overrides: the CSV had the address, so its sign-up is not a reader of its own
SIGNUP = "signup"  # Subscriber.source of a reader who came from a sign-up


@dataclass(frozen=True)
class Segment:
    """The readers an issue reaches by the topics they follow (an issue's ``audience:``).

    The one test every reader passes, whatever list they come from: :meth:`reaches` takes the
    set of topic names a reader follows (a subscribers CSV row's tags, a sign-up's topics).
    Names compare as :func:`~mailer.fields.topic_key` says (case aside).
    """

    topics: frozenset[str] = frozenset()  # a reader must follow one of these; none: any reader
    exclude: frozenset[str] = frozenset()  # a reader who follows one of these is left out

    @classmethod
    def of(cls, topics: Iterable[str] = (), exclude: Iterable[str] = ()) -> Segment:
        """The segment of these topic names (as the issue writes them)."""
        return cls(frozenset(map(topic_key, topics)), frozenset(map(topic_key, exclude)))

    @classmethod
    def of_issue(cls, issue: Issue) -> Segment:
        """The readers ``issue`` goes to: its ``audience:``, else every reader."""
        if issue.audience is None:
            return EVERYONE
        return cls.of(issue.audience.topics, issue.audience.exclude)

    @property
    def everyone(self) -> bool:
        """Whether every reader is reached (an issue without ``audience:``)."""
        return not (self.topics or self.exclude)

    def reaches(self, topics: Set[str]) -> bool:
        """Whether the issue goes to a reader who follows ``topics`` (topic names)."""
        if self.everyone:
            return True
        followed = {topic_key(name) for name in topics}
        if self.topics and self.topics.isdisjoint(followed):
            return False
        return self.exclude.isdisjoint(followed)

    def __str__(self) -> str:
        """``topics partners, donors; not staff``: the segment as a person reads it."""
        parts = []
        if self.topics:
            parts.append(f"topics {', '.join(sorted(self.topics))}")
        if self.exclude:
            parts.append(f"not {', '.join(sorted(self.exclude))}")
        return "; ".join(parts) or "every reader"


EVERYONE = Segment()


class Audience:
    """Who an issue goes to: the subscribers file and the sign-ups minus the suppression
    store, narrowed by the issue's segment.

    Iterating yields subscribers; the counts are complete once it ends.
    """

    def __init__(
        self, reader: SubscriberReader, store: SuppressionStore,
        wanted: Callable[[str], bool] = lambda language: True, segment: Segment = EVERYONE,
    ) -> None:
        """``wanted`` says by a reader's language whether this send is for them (a send of
        some editions only); the others are counted in :attr:`elsewhere`. ``segment`` says by
        their topics whether the issue is for them; of the readers of the editions sent, the
        others are counted in :attr:`outside`, and by their language in
        :attr:`outside_languages`."""
        self.reader = reader
        self.store = store
        self.wanted = wanted
        self.segment = segment
        self._reset()

    def _reset(self) -> None:
        self.subscribed = 0  # yielded: to be written to
        self.from_csv = 0  # of them, rows of the subscribers file
        self.from_signups = 0  # of them, confirmed sign-ups not in the file
        self.suppressed = 0
        self.elsewhere = 0  # readers of editions this send does not send
        self.outside = 0  # readers of the editions sent whom the segment leaves out
        self.outside_languages: Counter[str] = Counter()  # the same, by the reader's language
        self.signups_skipped = 0  # sign-ups this send's transport cannot carry

    def __iter__(self) -> Iterator[Subscriber]:
        self._reset()
        suppressed = self.store.keys()
        forgotten = self.store.forgotten_test()
        segment = None if self.segment.everyone else self.segment
        signups = Signups(self.store)
        overrides = signups.overrides()

        def kept(subscriber: Subscriber, key: int) -> bool:
            if suppressed.get(key) is not None or (
                forgotten is not None and subscriber.email in forgotten
            ):
                self.suppressed += 1
                return False
            if not self.wanted(subscriber.language):
                self.elsewhere += 1
                return False
            if segment is not None and not segment.reaches(subscriber.topics):
                self.outside += 1
                self.outside_languages[subscriber.language] += 1
                return False
            self.subscribed += 1
            return True

        for subscriber in self.reader:
            key = address_key(subscriber.email)
            if overrides.get(key) is not None:
                overrides.put(key, IN_CSV)
                language, topics = signups.choice(subscriber.email)
                subscriber = replace(
                    subscriber, language=language or subscriber.language, chosen_topics=topics
                )
            if kept(subscriber, key):
                self.from_csv += 1
                yield subscriber
        for reader in signups.readers():
            key = address_key(reader.email)
            if overrides.get(key) == IN_CSV:
                continue
            if self.reader.unsubscribed_keys.get(key) is not None:  # the CSV says so: kept
                continue
            if not self.reader.smtputf8 and not reader.email.rpartition("@")[0].isascii():
                self.signups_skipped += 1
                continue
            subscriber = Subscriber(reader.email, name=reader.name, language=reader.language,
                                    chosen_topics=reader.topics, source=SIGNUP)
            if kept(subscriber, key):
                self.from_signups += 1
                yield subscriber

    def sources(self) -> str:
        """``5 from the CSV, 2 signed up``: where the readers came from."""
        return f"{self.from_csv:,} from the CSV, {self.from_signups:,} signed up"

    @property
    def unsubscribed(self) -> int:
        return self.reader.unsubscribed

    @property
    def duplicates(self) -> int:
        return self.reader.duplicates

    @property
    def skipped(self) -> int:
        return self.reader.skipped_count + self.signups_skipped

    @property
    def skipped_rows(self) -> list[SkippedRow]:
        return self.reader.skipped

    @property
    def warnings(self) -> list[str]:
        return self.reader.warnings

    @property
    def warning_count(self) -> int:
        return self.reader.warning_count
