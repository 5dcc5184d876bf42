"""Who must never be written to again: the list's store (SQLite, WAL), one file per project.

It is shared by ``mailer send`` (which leaves suppressed addresses out and adds hard bounces),
``mailer serve`` (one-click unsubscribes, the ESPs' webhooks) and ``mailer bounces`` (the
bounce mailbox). Each suppression keeps the evidence of its verdict: the reason
(``unsubscribed``, ``bounced``, ``complained``, ``manual``), where it came from
(``one-click``, ``page``, ``mailto``, ``webhook:mailgun``, ``mailbox``, ``import``,
``command``, ``send``), the issue when known, the provider's or server's own words and the raw
event, and when it was first and last seen. Every piece of feedback about an issue is also an
event, de-duplicated by the provider's event id (a webhook delivered twice or a mailbox read
twice changes nothing): ``mailer status`` counts an issue's feedback from the events, so an
address that bounced two issues counts for each. Soft bounces are events that suppress only
after ``soft_limit`` of them within ``soft_days``.

Writers take the write lock at once (``BEGIN IMMEDIATE``) and wait for it (a busy timeout), so
a burst of unsubscribes during a send never fails with "database is locked"; readers hold no
transaction longer than one query, so nothing blocks a writer for the length of a send.

``forget`` erases an address from the store and keeps only an HMAC of it under a key kept in
the store, so that it is never written to again: whoever holds the file can test a guessed
address, nobody can read one back.

The schema is versioned (``PRAGMA user_version``) and migrated like the ledger's
(:func:`mailer.database.migrate`); the VERP tokens (:mod:`mailer.audience.verp`) and the
webhooks' replay keys (:mod:`mailer.audience.replays`) keep their tables here, owned by their
modules; so do the sign-ups, their consent records and the readers' preferences
(:mod:`mailer.audience.signups`, schema version 3), which ``forget`` erases with the rest.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailer.audience import replays, verp
from mailer.audience.events import FeedbackEvent
from mailer.audience.subscribers import AddressTable, address_key, lenient_address
from mailer.database import Migration, immediate, migrate, open_read_only, open_shared
from mailer.errors import UnusableDatabase

REASONS = ("unsubscribed", "bounced", "complained", "manual")
KIND_REASON = {"bounced": "bounced", "complained": "complained", "unsubscribed": "unsubscribed"}
REASON_KIND = {reason: kind for kind, reason in KIND_REASON.items()}
SOFT_LIMIT = 3  # soft bounces ...
SOFT_DAYS = 30  # ... within this many days suppress an address as bounced
WHAT = "the suppression store"
LAST_PULL = "last_pull"  # meta: the server's time of the last `mailer suppressions pull`


def _version_1(db: sqlite3.Connection) -> None:
    """The store as it was before versions were kept (a store of then has these tables)."""
    for statement in (
        """CREATE TABLE IF NOT EXISTS suppressions (
            id INTEGER PRIMARY KEY,      -- grows with each new entry: a send watches it
            address TEXT NOT NULL UNIQUE,  -- normalised, lower case
            email TEXT NOT NULL,         -- as first given
            reason TEXT NOT NULL,
            source TEXT NOT NULL,
            issue TEXT,
            detail TEXT NOT NULL DEFAULT '',
            raw TEXT NOT NULL DEFAULT '',
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,    -- source and the provider's event id: de-duplication
            address TEXT NOT NULL,
            kind TEXT NOT NULL,
            issue TEXT,
            detail TEXT NOT NULL DEFAULT '',
            raw TEXT NOT NULL DEFAULT '',
            received_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS events_address ON events (address, kind, received_at)",
        "CREATE INDEX IF NOT EXISTS events_issue ON events (issue, kind)",
        "CREATE TABLE IF NOT EXISTS forgotten (digest TEXT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        replays.TABLE,
        verp.TABLE,
    ):
        db.execute(statement)


def _version_2(db: sqlite3.Connection) -> None:
    """Every suppression that names its issue is an event of that issue too (before, only the
    webhooks' and the mailbox's were), so an issue's feedback is counted from the events."""
    db.execute(
        "INSERT OR IGNORE INTO events (key, address, kind, issue, detail, raw, received_at) "
        "SELECT source || ':' || issue || ':' || address, address, "
        "CASE reason WHEN 'unsubscribed' THEN 'unsubscribed' WHEN 'bounced' THEN 'bounced' "
        "ELSE 'complained' END, issue, detail, raw, first_seen "
        "FROM suppressions WHERE issue IS NOT NULL AND reason != 'manual'"
    )


SIGNUP_TABLES = (
    """CREATE TABLE IF NOT EXISTS signups (
        address TEXT PRIMARY KEY,        -- normalised, lower case
        email TEXT NOT NULL,             -- as given (normalised)
        name TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL,
        topics TEXT NOT NULL DEFAULT '[]',  -- JSON list of topic names
        status TEXT NOT NULL,            -- pending | confirmed
        source TEXT NOT NULL,            -- form | import | csv
        signed_up_at REAL NOT NULL,
        confirmed_at REAL,
        wording TEXT NOT NULL,           -- exactly what the reader was shown
        wording_version TEXT NOT NULL,   -- sha256:<16 hex> of the wording
        wording_commit TEXT,             -- the project's git commit, when it is a repository
        signup_ip TEXT,                  -- only with [consent] record_ip
        confirm_ip TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS signups_confirmed ON signups (status, address)",
    """CREATE TABLE IF NOT EXISTS signup_mails (
        address TEXT NOT NULL,
        sent_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS signup_mails_address ON signup_mails (address, sent_at)",
    "CREATE INDEX IF NOT EXISTS signup_mails_sent ON signup_mails (sent_at)",  # pruning
    """CREATE TABLE IF NOT EXISTS preferences (
        address TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        language TEXT,                   -- NULL: as the sign-up or the CSV says
        topics TEXT,                     -- JSON list; NULL: as the sign-up or the CSV says
        updated_at REAL NOT NULL
    )""",
)


def _version_3(db: sqlite3.Connection) -> None:
    """Sign-ups with their consent records, the confirmation emails sent, and the readers'
    preferences (:mod:`mailer.audience.signups` reads and writes them)."""
    for statement in SIGNUP_TABLES:
        db.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (_version_1, _version_2, _version_3)
# The tables of mailer.audience.signups: ``forget`` erases an address from them too.
SIGNUP_ERASED = ("signups", "signup_mails", "preferences")


@dataclass(frozen=True)
class Entry:
    """One suppressed address and the evidence of its verdict."""

    email: str
    reason: str
    source: str
    issue: str | None
    detail: str
    raw: str
    first_seen: float
    last_seen: float

    def as_dict(self) -> dict[str, object]:
        return {
            "email": self.email, "reason": self.reason, "source": self.source,
            "issue": self.issue, "detail": self.detail,
            "first_seen": iso_time(self.first_seen), "last_seen": iso_time(self.last_seen),
        }


@dataclass(frozen=True)
class Recorded:
    """What :meth:`SuppressionStore.record` made of a batch of events."""

    new: int  # events not seen before
    duplicates: int  # events already recorded (same source and event id)
    newly_suppressed: frozenset[str]  # addresses (normalised, lower case) suppressed by them
    forgotten: int  # events about erased addresses, dropped
    replayed: bool = False  # the request's replay key was seen before: nothing was recorded

    @property
    def suppressed(self) -> int:
        """How many addresses the batch newly suppressed (each once, however many events)."""
        return len(self.newly_suppressed)


class SuppressionStore:
    """The store file; safe to share between threads (one connection, one lock)."""

    def __init__(
        self, path: Path, *, soft_limit: int = SOFT_LIMIT, soft_days: float = SOFT_DAYS,
        read_only: bool = False,
    ) -> None:
        """Open (and create, and migrate) the store; ``read_only`` needs the file there and
        never writes to it (UnusableDatabase when it is not there or not a store)."""
        self.path = path
        self.soft_limit = soft_limit
        self.soft_days = soft_days
        self.read_only = read_only
        self._lock = threading.Lock()
        self._forgetting: bytes | None = None  # see _forget_key
        try:
            if read_only:
                self._db = open_read_only(path, busy_seconds=30)
                self._db.execute("SELECT count(*) FROM suppressions").fetchone()
            else:
                self._db = open_shared(path, busy_seconds=30)
                migrate(self._db, path, MIGRATIONS, WHAT)
        except (sqlite3.Error, OSError) as exc:
            raise UnusableDatabase(f"cannot open {WHAT} {path}: {exc}") from None
        self._watched_version = self._data_version()
        self._watermark = self._last_id()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SuppressionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction on the store (for the modules owning a table in it)."""
        return immediate(self._db, self._lock)

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        """One short read (no transaction outlives it)."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # -- writing ----------------------------------------------------------------------------

    def record(
        self, events: Iterable[FeedbackEvent], now: float | None = None,
        replay_key: str | None = None, *, at_their_time: bool = False,
    ) -> Recorded:
        """Record ``events`` in one transaction: each once, suppressing as its kind says.

        ``replay_key`` (a signed request's nonce) is claimed in the same transaction; a
        request whose key was seen before records nothing (``replayed``). ``at_their_time``:
        each event (and the suppression it makes) is dated by its ``occurred_at`` when it has
        one, not ``now`` (an ESP's suppression list, pulled long after some of it happened).
        """
        now = time.time() if now is None else now
        new = duplicates = forgotten = 0
        suppressed: set[str] = set()
        with self.transaction() as db:
            if replay_key is not None and not replays.claim(db, replay_key, now):
                return Recorded(0, 0, frozenset(), 0, replayed=True)
            key = self._forget_key(db)
            for event in events:
                email = lenient_address(event.address)
                if email is None:
                    continue  # not an address: nothing to suppress, nothing to count
                address = email.lower()
                if self._is_forgotten(db, key, address):
                    forgotten += 1
                    continue
                when = now
                if at_their_time and event.occurred_at is not None:
                    when = event.occurred_at
                if not self._event(db, f"{event.source}:{event.event_id}", address, event.kind,
                                   event.issue_id, event.detail, event.raw, when):
                    duplicates += 1
                    continue
                new += 1
                reason = KIND_REASON.get(event.kind)
                if reason is None and self._soft_bounces(db, address, now) >= self.soft_limit:
                    reason = "bounced"
                if reason is not None and self._suppress(
                    db, email, reason, event.source, event.issue_id, event.detail, event.raw, when
                ):
                    suppressed.add(address)
        return Recorded(new, duplicates, frozenset(suppressed), forgotten)

    def add(
        self, email: str, reason: str, source: str, *, issue: str | None = None,
        detail: str = "", raw: str = "", when: float | None = None,
    ) -> bool:
        """Suppress ``email``; True if it was not suppressed before. A reason given for an
        ``issue`` is also that issue's event (an unsubscribe from it, a bounce of it).
        ValueError if ``email`` is not an address or ``reason`` is not one of :data:`REASONS`."""
        if reason not in REASONS:
            raise ValueError(f"unknown suppression reason {reason!r} (one of {', '.join(REASONS)})")
        normal = lenient_address(email)
        if normal is None:
            raise ValueError(f"not a valid address {email!r}")
        when = time.time() if when is None else when
        with self.transaction() as db:
            if self._is_forgotten(db, self._forget_key(db), normal.lower()):
                return False
            kind = REASON_KIND.get(reason)
            if issue is not None and kind is not None:
                self._event(db, f"{source}:{issue}:{normal.lower()}", normal.lower(), kind,
                            issue, detail, raw, when)
            return self._suppress(db, normal, reason, source, issue, detail, raw, when)

    def add_many(self, entries: Iterable[Entry]) -> tuple[int, int]:
        """Suppress every entry in one transaction (an import): (added, already suppressed);
        forgotten addresses are left out. If ``entries`` raises, nothing is added."""
        added = known = 0
        with self.transaction() as db:
            key = self._forget_key(db)
            for entry in entries:
                if self._is_forgotten(db, key, entry.email.lower()):
                    continue
                if self._suppress(db, entry.email, entry.reason, entry.source, entry.issue,
                                  entry.detail, entry.raw, entry.first_seen):
                    added += 1
                else:
                    known += 1
        return added, known

    @staticmethod
    def _event(
        db: sqlite3.Connection, key: str, address: str, kind: str, issue: str | None,
        detail: str, raw: str, when: float,
    ) -> bool:
        """Record one event; False if an event with ``key`` was recorded before."""
        return bool(db.execute(
            "INSERT INTO events (key, address, kind, issue, detail, raw, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, address, kind, issue, detail, raw, when),
        ).rowcount)

    @staticmethod
    def _suppress(
        db: sqlite3.Connection, email: str, reason: str, source: str, issue: str | None,
        detail: str, raw: str, when: float,
    ) -> bool:
        """Insert the entry of ``email`` (normalised), or move the ``last_seen`` of the one
        there (the first verdict's evidence is kept); True if it was not suppressed before."""
        address = email.lower()
        if db.execute("UPDATE suppressions SET last_seen = max(last_seen, ?) WHERE address = ?",
                      (when, address)).rowcount:
            return False
        db.execute(
            "INSERT INTO suppressions (address, email, reason, source, issue, detail, raw, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (address, email, reason, source, issue, detail, raw, when, when),
        )
        return True

    def _soft_bounces(self, db: sqlite3.Connection, address: str, now: float) -> int:
        since = now - self.soft_days * 86400
        count: int = db.execute(
            "SELECT count(*) FROM events WHERE address = ? AND kind = 'soft_bounce' "
            "AND received_at >= ?", (address, since),
        ).fetchone()[0]
        return count

    def remove(self, email: str) -> Entry | None:
        """Lift the suppression of ``email``; the entry that was removed, if any."""
        address = _key(email)
        if address is None:
            return None
        with self.transaction() as db:
            found = db.execute(
                f"SELECT {_ENTRY} FROM suppressions WHERE address = ?", (address,)
            ).fetchone()
            db.execute("DELETE FROM suppressions WHERE address = ?", (address,))
        return Entry(*found) if found else None

    def forget(self, email: str) -> bool:
        """Erase every trace of ``email`` and keep only its keyed hash; True if it was known."""
        address = _key(email)
        if address is None:
            raise ValueError(f"not a valid address {email!r}")
        with self.transaction() as db:
            tables = ("suppressions", "events", "verp", *SIGNUP_ERASED)
            known = sum(
                db.execute(f"SELECT count(*) FROM {table} WHERE address = ?",
                           (address,)).fetchone()[0]
                for table in tables
            )
            for table in tables:
                db.execute(f"DELETE FROM {table} WHERE address = ?", (address,))
            db.execute(
                "INSERT OR IGNORE INTO forgotten (digest) VALUES (?)",
                (_digest(self._forget_key(db), address),),
            )
        return bool(known)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def meta(self, key: str) -> str | None:
        found = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return found[0][0] if found else None

    def last_pull(self) -> float | None:
        """When suppressions were last pulled from a server (its clock), if ever."""
        value = self.meta(LAST_PULL)
        return None if value is None else float(value)

    def _forget_key(self, db: sqlite3.Connection) -> bytes:
        """The store's own key for forgotten addresses, made on first use. Once read it is
        kept: it never changes (one just made is not kept: its transaction may roll back)."""
        if self._forgetting is not None:
            return self._forgetting
        found = db.execute("SELECT value FROM meta WHERE key = 'forget_key'").fetchone()
        if found:
            self._forgetting = bytes.fromhex(found[0])
            return self._forgetting
        key = secrets.token_bytes(32)
        db.execute("INSERT INTO meta (key, value) VALUES ('forget_key', ?)", (key.hex(),))
        return key

    def erased(self, db: sqlite3.Connection, address: str) -> bool:
        """Whether ``address`` (normalised, lower case) was erased: for the modules owning a
        table in the store, inside their transaction."""
        return self._is_forgotten(db, self._forget_key(db), address)

    @staticmethod
    def _is_forgotten(db: sqlite3.Connection, key: bytes, address: str) -> bool:
        return db.execute(
            "SELECT 1 FROM forgotten WHERE digest = ?", (_digest(key, address),)
        ).fetchone() is not None

    # -- reading ----------------------------------------------------------------------------

    def reason(self, email: str) -> str | None:
        """Why ``email`` is suppressed, or None (also for anything that is not an address)."""
        address = _key(email)
        if address is None:
            return None
        found = self.query("SELECT reason FROM suppressions WHERE address = ?", (address,))
        return found[0][0] if found else None

    def __contains__(self, email: str) -> bool:
        return self.reason(email) is not None

    def __len__(self) -> int:
        count: int = self.query("SELECT count(*) FROM suppressions")[0][0]
        return count

    def entries(self, since: float | None = None) -> Iterator[Entry]:
        """Every entry, oldest first, read in pages (``since``: last seen at or after)."""
        last = 0
        while True:
            page = self.query(
                f"SELECT id, {_ENTRY} FROM suppressions WHERE id > ? AND last_seen >= ? "
                "ORDER BY id LIMIT 1000", (last, since or 0),
            )
            if not page:
                return
            for row in page:
                yield Entry(*row[1:])
            last = page[-1][0]

    def keys(self) -> AddressTable:
        """Every suppressed address as a key, for checking a whole audience against."""
        table = AddressTable(expected=len(self), load=AddressTable.LOOKUP_LOAD)
        for (address,) in self.query("SELECT address FROM suppressions"):
            table.setdefault(address_key(address), 1)
        return table

    def forgotten_test(self) -> Forgotten | None:
        """A check for erased addresses, or None when nothing was ever forgotten."""
        digests = {row[0] for row in self.query("SELECT digest FROM forgotten")}
        if not digests:
            return None
        found = self.query("SELECT value FROM meta WHERE key = 'forget_key'")
        return Forgotten(bytes.fromhex(found[0][0]), frozenset(digests)) if found else None

    def feedback(self, issue: str) -> Iterator[tuple[str, str]]:
        """(kind, address) of every reader who gave feedback on ``issue``: each pair once, an
        address that bounced this issue and another counts for both."""
        yield from self.query(
            "SELECT DISTINCT kind, address FROM events WHERE issue = ? ORDER BY kind, address",
            (issue,),
        )

    def issueless(self, source: str) -> list[tuple[str, str, float]]:
        """(kind, address, when) of every event whose source starts with ``source`` and that
        names no issue (an ESP's suppression lists say none)."""
        pattern = source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.query(
            "SELECT kind, address, received_at FROM events WHERE issue IS NULL "
            "AND key LIKE ? ESCAPE '\\' ORDER BY id", (pattern + "%",),
        )

    # -- watching during a send ---------------------------------------------------------------

    def _data_version(self) -> int:
        version: int = self.query("PRAGMA data_version")[0][0]
        return version

    def _last_id(self) -> int:
        last: int = self.query("SELECT coalesce(max(id), 0) FROM suppressions")[0][0]
        return last

    def new_since_watched(self) -> list[str]:
        """Addresses suppressed by another process since the last call (or since opening).

        Costs one ``PRAGMA data_version`` when nothing changed: cheap enough to ask before
        every batch of a send.
        """
        version = self._data_version()
        if version == self._watched_version:
            return []
        self._watched_version = version
        rows = self.query(
            "SELECT id, address FROM suppressions WHERE id > ? ORDER BY id", (self._watermark,)
        )
        if rows:
            self._watermark = rows[-1][0]
        return [address for _, address in rows]


_ENTRY = "email, reason, source, issue, detail, raw, first_seen, last_seen"


@dataclass(frozen=True)
class Forgotten:
    """The erased addresses, testable without being readable."""

    key: bytes
    digests: frozenset[str]

    def __contains__(self, address: str) -> bool:
        return _digest(self.key, address.lower()) in self.digests


def _key(email: str) -> str | None:
    """The store's key for ``email``: normalised, lower case."""
    normal = lenient_address(email)
    return None if normal is None else normal.lower()


def _digest(key: bytes, address: str) -> str:
    return hmac.new(key, address.encode("utf-8"), "sha256").hexdigest()


def iso_time(timestamp: float) -> str:
    """``timestamp`` in the local time zone, as ISO 8601 to the second."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
