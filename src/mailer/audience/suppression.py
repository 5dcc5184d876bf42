"""Who must never be written to again: one suppression store, and the audience it leaves.

The store is an SQLite database (WAL), shared by ``mailer send`` (which leaves suppressed
addresses out and adds hard bounces), ``mailer serve`` (one-click unsubscribes, the ESPs'
webhooks) and ``mailer bounces`` (the bounce mailbox). Each entry keeps the evidence of its
verdict: the reason (``unsubscribed``, ``bounced``, ``complained``, ``manual``), where it came
from (``one-click``, ``page``, ``mailto``, ``webhook:mailgun``, ``mailbox``, ``import``,
``command``, ``send``), the issue when known, the provider's or server's own words and the raw
event, and when it was first and last seen. Every piece of feedback is also kept as an event,
de-duplicated by the provider's event id, so a webhook delivered twice or a mailbox read twice
changes nothing; soft bounces are events that suppress only after ``soft_limit`` of them within
``soft_days``.

Writers take the write lock at once (``BEGIN IMMEDIATE``) and wait for it (a busy timeout), so
a burst of unsubscribes during a send never fails with "database is locked"; readers hold no
transaction longer than one query, so nothing blocks a writer for the length of a send.

``forget`` erases an address from the store (and the command from every ledger) and keeps only
an HMAC of it under a key kept in the store, so that it is never written to again: whoever
holds the file can test a guessed address, nobody can read one back.
"""

from __future__ import annotations

import contextlib
import csv
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from mailer.audience.events import FeedbackEvent
from mailer.audience.subscribers import (
    EMAIL_ALIASES,
    AddressTable,
    CsvRow,
    CsvTable,
    SkippedRow,
    Subscriber,
    SubscriberReader,
    address_key,
    normalise_address,
)
from mailer.database import immediate, open_shared
from mailer.errors import InputError, Location, MailerError
from mailer.settings import LoadedSettings

REASONS = ("unsubscribed", "bounced", "complained", "manual")
KIND_REASON = {"bounced": "bounced", "complained": "complained", "unsubscribed": "unsubscribed"}
SOFT_LIMIT = 3  # soft bounces ...
SOFT_DAYS = 30  # ... within this many days suppress an address as bounced
STORE_NAME = ".mailer/suppressions.sqlite3"

_SCHEMA = (
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
    # Keys of signed requests already accepted (a webhook's nonce): a replay is refused.
    "CREATE TABLE IF NOT EXISTS replays (key TEXT PRIMARY KEY, seen REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # VERP tokens given at send time: a bounce to bounces+TOKEN@ names its issue and reader.
    """CREATE TABLE IF NOT EXISTS verp (
        token TEXT PRIMARY KEY, issue TEXT NOT NULL, address TEXT NOT NULL
    ) WITHOUT ROWID""",
)


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
            "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen),
        }


@dataclass(frozen=True)
class Recorded:
    """What :meth:`SuppressionStore.record` made of a batch of events."""

    new: int  # events not seen before
    duplicates: int  # events already recorded (same source and event id)
    suppressed: int  # addresses newly suppressed
    forgotten: int  # events about erased addresses, dropped
    replayed: bool = False  # the request's replay key was seen before: nothing was recorded


class SuppressionStore:
    """The store file; safe to share between threads (one connection, one lock)."""

    def __init__(
        self, path: Path, *, soft_limit: int = SOFT_LIMIT, soft_days: float = SOFT_DAYS
    ) -> None:
        self.path = path
        self.soft_limit = soft_limit
        self.soft_days = soft_days
        self._lock = threading.Lock()
        try:
            self._db = open_shared(path, busy_seconds=30)
            with self._transaction() as db:
                for statement in _SCHEMA:
                    db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise MailerError(f"cannot open the suppression store {path}: {exc}") from None
        self._watched_version = self._data_version()
        self._watermark = self._last_id()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SuppressionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db, self._lock)

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        """One short read (no transaction outlives it)."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # -- writing ----------------------------------------------------------------------------

    def record(
        self, events: Iterable[FeedbackEvent], now: float | None = None,
        replay_key: str | None = None,
    ) -> Recorded:
        """Record ``events`` in one transaction: each once, suppressing as its kind says.

        ``replay_key`` (a signed request's nonce) is remembered in the same transaction; a
        request whose key was seen before records nothing (``replayed``).
        """
        now = time.time() if now is None else now
        new = duplicates = suppressed = forgotten = 0
        with self._transaction() as db:
            if replay_key is not None:
                # Signed requests older than an hour are refused by their timestamp anyway.
                db.execute("DELETE FROM replays WHERE seen < ?", (now - 3600,))
                if not db.execute(
                    "INSERT INTO replays (key, seen) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    (replay_key, now),
                ).rowcount:
                    return Recorded(0, 0, 0, 0, replayed=True)
            key = self._forget_key(db)
            for event in events:
                email = _normalised(event.address)
                if email is None:
                    continue  # not an address: nothing to suppress, nothing to count
                address = email.lower()
                if self._is_forgotten(db, key, address):
                    forgotten += 1
                    continue
                inserted = db.execute(
                    "INSERT INTO events (key, address, kind, issue, detail, raw, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    (f"{event.source}:{event.event_id}", address, event.kind, event.issue_id,
                     event.detail, event.raw, now),
                ).rowcount
                if not inserted:
                    duplicates += 1
                    continue
                new += 1
                reason = KIND_REASON.get(event.kind)
                if reason is None and self._soft_bounces(db, address, now) >= self.soft_limit:
                    reason = "bounced"
                if reason is not None:
                    suppressed += self._suppress(
                        db, email, reason, event.source, event.issue_id, event.detail,
                        event.raw, now,
                    )
        return Recorded(new, duplicates, suppressed, forgotten)

    def add(
        self, email: str, reason: str, source: str, *, issue: str | None = None,
        detail: str = "", raw: str = "", when: float | None = None,
    ) -> bool:
        """Suppress ``email``; True if it was not suppressed before. ValueError if ``email``
        is not an address or ``reason`` is not one of :data:`REASONS`."""
        if reason not in REASONS:
            raise ValueError(f"unknown suppression reason {reason!r} (one of {', '.join(REASONS)})")
        normal = _normalised(email)
        if normal is None:
            raise ValueError(f"not a valid address {email!r}")
        when = time.time() if when is None else when
        with self._transaction() as db:
            if self._is_forgotten(db, self._forget_key(db), normal.lower()):
                return False
            return bool(self._suppress(db, normal, reason, source, issue, detail, raw, when))

    @staticmethod
    def _suppress(
        db: sqlite3.Connection, email: str, reason: str, source: str, issue: str | None,
        detail: str, raw: str, when: float,
    ) -> int:
        """Insert or refresh the entry of ``email`` (normalised); 1 if it was not suppressed
        before. The first verdict's evidence is kept; a later one only moves ``last_seen``."""
        return db.execute(
            "INSERT INTO suppressions (address, email, reason, source, issue, detail, raw, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (address) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen) "
            "RETURNING first_seen = last_seen",
            (email.lower(), email, reason, source, issue, detail, raw, when, when),
        ).fetchone()[0]

    def _soft_bounces(self, db: sqlite3.Connection, address: str, now: float) -> int:
        since = now - self.soft_days * 86400
        return db.execute(
            "SELECT count(*) FROM events WHERE address = ? AND kind = 'soft_bounce' "
            "AND received_at >= ?", (address, since),
        ).fetchone()[0]

    def remove(self, email: str) -> Entry | None:
        """Lift the suppression of ``email``; the entry that was removed, if any."""
        address = _normal(email)
        if address is None:
            return None
        with self._transaction() as db:
            found = db.execute(
                f"SELECT {_ENTRY} FROM suppressions WHERE address = ?", (address,)
            ).fetchone()
            db.execute("DELETE FROM suppressions WHERE address = ?", (address,))
        return Entry(*found) if found else None

    def forget(self, email: str) -> bool:
        """Erase every trace of ``email`` and keep only its keyed hash; True if it was known."""
        address = _normal(email)
        if address is None:
            raise ValueError(f"not a valid address {email!r}")
        with self._transaction() as db:
            known = db.execute(
                "SELECT (SELECT count(*) FROM suppressions WHERE address = :a) "
                "+ (SELECT count(*) FROM events WHERE address = :a)", {"a": address},
            ).fetchone()[0]
            db.execute("DELETE FROM suppressions WHERE address = ?", (address,))
            db.execute("DELETE FROM events WHERE address = ?", (address,))
            db.execute(
                "INSERT OR IGNORE INTO forgotten (digest) VALUES (?)",
                (_digest(self._forget_key(db), address),),
            )
        return bool(known)

    def register_verp(self, issue: str, tokens: Iterable[tuple[str, str]]) -> None:
        """Remember (token, address) pairs of ``issue``, in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO verp (token, issue, address) VALUES (?, ?, ?) "
                "ON CONFLICT (token) DO NOTHING",
                [(token, issue, address.lower()) for token, address in tokens],
            )

    def verp(self, token: str) -> tuple[str, str] | None:
        """(issue, address) a VERP token was given for, if it was."""
        found = self._query("SELECT issue, address FROM verp WHERE token = ?", (token.lower(),))
        return (found[0][0], found[0][1]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def meta(self, key: str) -> str | None:
        found = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return found[0][0] if found else None

    def last_pull(self) -> float | None:
        """When suppressions were last pulled from a server (its clock), if ever."""
        value = self.meta(LAST_PULL)
        return None if value is None else float(value)

    @staticmethod
    def _forget_key(db: sqlite3.Connection) -> bytes:
        """The store's own key for forgotten addresses, made on first use."""
        found = db.execute("SELECT value FROM meta WHERE key = 'forget_key'").fetchone()
        if found:
            return bytes.fromhex(found[0])
        key = secrets.token_bytes(32)
        db.execute("INSERT INTO meta (key, value) VALUES ('forget_key', ?)", (key.hex(),))
        return key

    @staticmethod
    def _is_forgotten(db: sqlite3.Connection, key: bytes, address: str) -> bool:
        return db.execute(
            "SELECT 1 FROM forgotten WHERE digest = ?", (_digest(key, address),)
        ).fetchone() is not None

    # -- reading ----------------------------------------------------------------------------

    def reason(self, email: str) -> str | None:
        """Why ``email`` is suppressed, or None (also for anything that is not an address)."""
        address = _normal(email)
        if address is None:
            return None
        found = self._query("SELECT reason FROM suppressions WHERE address = ?", (address,))
        return found[0][0] if found else None

    def __contains__(self, email: str) -> bool:
        return self.reason(email) is not None

    def __len__(self) -> int:
        return self._query("SELECT count(*) FROM suppressions")[0][0]

    def entries(self, since: float | None = None) -> Iterator[Entry]:
        """Every entry, oldest first, read in pages (``since``: last seen at or after)."""
        last = 0
        while True:
            page = self._query(
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
        count = self._query("SELECT count(*) FROM suppressions")[0][0]
        table = AddressTable(expected=count)
        for (address,) in self._query("SELECT address FROM suppressions"):
            table.setdefault(address_key(address), 1)
        return table

    def forgotten_test(self) -> _Forgotten | None:
        """A check for erased addresses, or None when nothing was ever forgotten."""
        digests = {row[0] for row in self._query("SELECT digest FROM forgotten")}
        if not digests:
            return None
        with self._transaction() as db:
            key = self._forget_key(db)
        return _Forgotten(key, frozenset(digests))

    def counts_for(self, issue: str) -> dict[str, int]:
        """Addresses suppressed because of ``issue``, per reason, and the addresses that
        soft-bounced it (``soft_bounce``): each address once."""
        counts = dict(self._query(
            "SELECT reason, count(*) FROM suppressions WHERE issue = ? GROUP BY reason", (issue,)
        ))
        counts["soft_bounce"] = self._query(
            "SELECT count(DISTINCT address) FROM events WHERE issue = ? AND kind = 'soft_bounce'",
            (issue,),
        )[0][0]
        return counts

    # -- watching during a send ---------------------------------------------------------------

    def _data_version(self) -> int:
        return self._query("PRAGMA data_version")[0][0]

    def _last_id(self) -> int:
        return self._query("SELECT coalesce(max(id), 0) FROM suppressions")[0][0]

    def new_since_watched(self) -> list[str]:
        """Addresses suppressed by another process since the last call (or since opening).

        Costs one ``PRAGMA data_version`` when nothing changed: cheap enough to ask before
        every batch of a send.
        """
        version = self._data_version()
        if version == self._watched_version:
            return []
        self._watched_version = version
        rows = self._query(
            "SELECT id, address FROM suppressions WHERE id > ? ORDER BY id", (self._watermark,)
        )
        if rows:
            self._watermark = rows[-1][0]
        return [address for _, address in rows]

    # -- importing and exporting --------------------------------------------------------------

    def import_csv(
        self, path: Path, *, default_reason: str | None = None, strict: bool = False
    ) -> Imported:
        """Suppress every address of a CSV file: this store's own export, the old
        ``suppression.csv`` (``email,reason,date``), or Mailchimp's unsubscribed and cleaned
        exports (recognised by their ``UNSUB_TIME`` / ``CLEAN_TIME`` columns).

        A wrong row is skipped and reported; with ``strict`` it is an InputError and nothing
        of the file is imported (one transaction)."""
        added = known = 0
        skipped: list[SkippedRow] = []
        now = time.time()
        with CsvTable(path, IMPORT_COLUMNS, required=("email",)) as table:
            reason = default_reason or _reason_of_export(table.layout)
            with self._transaction() as db:
                key = self._forget_key(db)
                for row in table:
                    try:
                        entry = _imported(path, row, reason, now)
                    except InputError as exc:
                        if strict:
                            raise
                        reason_text = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
                        skipped.append(SkippedRow(path, row.line, reason_text))
                        continue
                    if self._is_forgotten(db, key, entry.email.lower()):
                        continue
                    if self._suppress(db, entry.email, entry.reason, "import", None,
                                      entry.detail, entry.raw, entry.first_seen):
                        added += 1
                    else:
                        known += 1
        return Imported(added, known, skipped)

    def export_csv(self, out: TextIO) -> int:
        """Every entry as CSV, in the columns :meth:`import_csv` reads back; the row count."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        for entry in self.entries():
            values = entry.as_dict()
            writer.writerow(["" if values[c] is None else values[c] for c in EXPORT_COLUMNS])
            count += 1
        return count


_ENTRY = "email, reason, source, issue, detail, raw, first_seen, last_seen"
EXPORT_COLUMNS = ("email", "reason", "source", "issue", "detail", "first_seen", "last_seen")
IMPORT_COLUMNS: Mapping[str, Sequence[str]] = {
    "email": EMAIL_ALIASES,
    "reason": ("reason",),
    "date": ("date", "first seen", "first_seen"),
    "unsub_time": ("unsub time",),  # Mailchimp's unsubscribed export
    "clean_time": ("clean time",),  # Mailchimp's cleaned (bounced) export
    "detail": ("detail", "unsub reason"),
    "campaign": ("unsub campaign title", "clean campaign title"),
}


@dataclass(frozen=True)
class Imported:
    added: int
    already: int
    skipped: list[SkippedRow]


@dataclass(frozen=True)
class _Forgotten:
    key: bytes
    digests: frozenset[str]

    def __contains__(self, address: str) -> bool:
        return _digest(self.key, address.lower()) in self.digests


def _reason_of_export(layout: list[str | None]) -> str | None:
    """The reason for rows that do not give their own: Mailchimp's exports say what they are
    by their columns, not in a reason column."""
    names = {column for column in layout if column}
    if "reason" in names:
        return None
    if "unsub_time" in names:
        return "unsubscribed"
    if "clean_time" in names:
        return "bounced"
    return "manual"


def _imported(path: Path, row: CsvRow, reason: str | None, now: float) -> Entry:
    where = Location(path, row.line)
    if row.error:
        raise InputError(where, row.error)
    values = row.values
    try:
        email = normalise_address(values["email"])
    except ValueError as exc:
        raise InputError(where, str(exc), "email") from None
    chosen = (values.get("reason") or reason or "manual").lower()
    if chosen not in REASONS:
        raise InputError(
            where, f"unknown reason {chosen!r} (expected one of: {', '.join(REASONS)})", "reason"
        )
    date = values.get("date") or values.get("unsub_time") or values.get("clean_time") or ""
    when = _parse_date(date, where) or now
    detail = " ".join(v for v in (values.get("detail", ""), values.get("campaign", "")) if v)
    return Entry(email, chosen, "import", None, detail, json.dumps(values, ensure_ascii=False),
                 when, when)


def _parse_date(text: str, where: Location) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1)).timestamp()
    except ValueError:
        raise InputError(where, f"not a date {text!r} (expected 2024-05-31)", "date") from None


# A plain ASCII address: dot-atom local part, a domain of dotted labels. email-validator would
# only lower-case its domain, at ~40 µs an address, a SendGrid batch's whole budget.
_PLAIN_ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def _normalised(email: str) -> str | None:
    """``email`` as email-validator normalises it, or None if it is not an address."""
    email = email.strip()
    plain = _PLAIN_ADDRESS.fullmatch(email)
    if plain and len(plain.group(1)) <= 64:
        return f"{plain.group(1)}@{plain.group(2).lower()}"
    try:
        return normalise_address(email)
    except ValueError:
        return None


def _normal(email: str) -> str | None:
    """The store's key for ``email``: normalised, lower case."""
    normal = _normalised(email)
    return None if normal is None else normal.lower()


def _digest(key: bytes, address: str) -> str:
    return hmac.new(key, address.encode("utf-8"), "sha256").hexdigest()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


LEGACY_CSV = ".mailer/suppression.csv"  # where the list lived before the store
LAST_PULL = "last_pull"  # meta: the server's time of the last `mailer suppressions pull`


def store_for(settings: LoadedSettings) -> SuppressionStore:
    """The project's store: ``[send] suppression`` (or ``MAILER_SUPPRESSION``), by default
    ``.mailer/suppressions.sqlite3`` beside mailer.toml. A ``.csv`` value, or the list a
    previous version kept in ``.mailer/suppression.csv``, is imported into it once."""
    value = settings.settings.send.suppression
    if value and value.lower().endswith(".csv"):
        path, legacy = settings.resolve(STORE_NAME), settings.resolve(value)
    else:
        path, legacy = settings.resolve(value or STORE_NAME), settings.resolve(LEGACY_CSV)
    bounces = settings.settings.bounces
    return open_store(path, legacy=legacy, soft_limit=bounces.soft_limit,
                      soft_days=bounces.soft_days)


def open_store(
    path: Path, *, legacy: Path | None = None, soft_limit: int = SOFT_LIMIT,
    soft_days: float = SOFT_DAYS,
) -> SuppressionStore:
    """The store at ``path``; a ``legacy`` CSV list beside it is imported once (nothing lost)
    and renamed ``*.imported``. UsageError when a row of it cannot be read."""
    store = SuppressionStore(path, soft_limit=soft_limit, soft_days=soft_days)
    if legacy is not None and legacy.is_file():
        try:
            store.import_csv(legacy, strict=True)
        except InputError as exc:
            store.close()
            raise InputError(
                exc.location, f"{exc.reason}; fix it so the list can be imported into {path} "
                "(nothing was imported)", exc.field,
            ) from None
        legacy.rename(legacy.with_name(legacy.name + ".imported"))
    return store


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
