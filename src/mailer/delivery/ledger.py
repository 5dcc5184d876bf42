"""The send ledger: one SQLite row per (issue, recipient), so a send can always be resumed.

A row moves ``queued`` -> ``sending`` -> ``sent`` | ``deferred`` | ``failed``; ``deferred``
rows come back when their ``next_attempt_at`` is due. Each fill numbers itself and stamps the
rows of its audience; only those are sent, so a reader missing from this run's subscriber list
(unsubscribed, suppressed, or a partial file) is not sent now but keeps its row, and a later
fill that finds it again sends it. A row the runner gives up on for this run (deferred past
its retry window) is *parked*: its fill stamp is cleared, so this run no longer waits for it,
and the next fill takes it again, due at once.

The runner marks rows ``sending`` in a committed transaction *before* the transport sees them
and records each exchange's outcome right after it, before the next message is handed over:
after a crash (even ``kill -9``) the ``sending`` rows are exactly the messages that may or may
not have gone out, at most one exchange per connection. A resumed send sends those again, with
the same Message-ID (derived from issue and address), and never touches a ``sent`` row.

While a send runs, an exchange's outcome is one line appended to the *outcomes journal*
(``LEDGER-outcomes``, beside the ``-wal`` file): one ``write`` to the operating system, which
keeps it when the process is killed, where a commit of its own cost ~30 µs of CPU and 4 KB of
WAL a message, and the threads' turns at the ledger (``bench/bench_send.py``). The journal is
folded into the table (in the same transaction) at every claim of a batch, before any other
write and when the ledger is closed (then it is removed); a send that finds one left by a
killed run folds it before it fills. Folding a line twice changes nothing (it applies only to
a row still ``sending``), so a run killed between a fold's commit and emptying the journal
loses nothing either. A reader (``mailer status``, which opens nothing for writing) that finds
a journal reads it too, into a copy of the ledger in memory (as large as the file: ~120 MB for
a million readers; only while a send runs, or after one was killed).

The database is in WAL mode with ``synchronous=NORMAL``: a commit survives the process being
killed (not a power cut), and readers such as ``mailer status`` (which opens the file read-only)
never block the sender. Filling streams the audience in chunks, so memory does not grow with
the list; a row takes about 120 bytes on disk (see ``bench/bench_million.py``): the issue is a
number, the address is kept once with a 64-bit key for uniqueness, states are small numbers,
Message-IDs are derived rather than stored, and an ESP's id for a whole request is kept once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from mailer.database import (
    Migration,
    immediate,
    migrate,
    open_read_only,
    open_shared,
    schema_version,
)
from mailer.delivery.message_ids import message_id_for
from mailer.errors import DeliveryError, UnusableDatabase

if TYPE_CHECKING:  # importing the message builder would slow ``mailer status`` down
    from mailer.delivery.message import Recipient

STATES = ("queued", "deferred", "sending", "sent", "failed")
CODES = {name: code for code, name in enumerate(STATES)}  # as stored: a byte, not a word
DUE = "state < 2"  # queued or deferred: the rows a send takes (the partial index's condition)
CHUNK = 1000  # rows per executemany when filling the ledger
OUTCOMES = "-outcomes"  # the outcomes journal: the ledger's path with this after it
MERGE_COLUMNS = ("name", "first_name", "last_name", "language")  # with email: merge data


def address_key(email: str) -> int:
    """A signed 64-bit digest of the address in lower case: one row per reader and issue.

    Two different addresses share a key with odds of about n²/2⁶⁵ (3 in 100 million for a
    million readers).
    """
    digest = blake2b(email.lower().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _version_1(db: sqlite3.Connection) -> None:
    """The first release's table; a ledger from before versions were kept has it already."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS deliveries (
            id INTEGER PRIMARY KEY, issue_id TEXT NOT NULL, address TEXT NOT NULL,
            email TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', merge_data TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0, message_id TEXT, provider_id TEXT,
            response TEXT, reason TEXT, fill INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL, UNIQUE (issue_id, address))"""
    )


def _version_2(db: sqlite3.Connection) -> None:
    """Compact rows: issues and shared request ids by number, the address once, numeric states,
    no stored Message-IDs; the first release's rows are carried over."""
    db.execute("CREATE TABLE issues (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
               "domain TEXT NOT NULL DEFAULT '')")
    db.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, provider_id TEXT NOT NULL UNIQUE)")
    db.execute(
        """CREATE TABLE recipients (
            id INTEGER PRIMARY KEY,          -- the order of the subscriber file
            issue INTEGER NOT NULL,          -- issues.id
            key INTEGER NOT NULL,            -- address_key(email)
            email TEXT NOT NULL,
            name TEXT, first_name TEXT, last_name TEXT, language TEXT,  -- NULL when empty
            state INTEGER NOT NULL DEFAULT 0,  -- an index into STATES
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            provider_id TEXT,                -- the server's id for this one message
            request INTEGER,                 -- requests.id: an ESP's id for a whole request
            detail TEXT,                     -- why it is deferred or failed
            fill INTEGER NOT NULL DEFAULT 0,  -- the fill that may send it; 0: parked or held
            updated_at INTEGER NOT NULL,
            UNIQUE (issue, key)
        )"""
    )
    db.execute(f"CREATE INDEX recipients_due ON recipients (issue, fill, next_attempt_at) "
               f"WHERE {DUE}")
    db.execute("CREATE INDEX recipients_sending ON recipients (issue) WHERE state = 2")
    old = db.execute("SELECT issue_id, email, merge_data, state, attempts, next_attempt_at, "
                     "provider_id, coalesce(reason, ''), fill, updated_at, message_id "
                     "FROM deliveries ORDER BY id")
    for issue_id, email, data, state, attempts, due, provider, reason, fill, updated, mid in old:
        issue = _issue_number(db, issue_id, mid.rpartition("@")[2] if mid else "")
        fields = json.loads(data)
        db.execute(
            "INSERT OR IGNORE INTO recipients (issue, key, email, name, first_name, last_name, "
            "language, state, attempts, next_attempt_at, provider_id, detail, fill, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (issue, address_key(email), email, *(fields.get(c) or None for c in MERGE_COLUMNS),
             CODES[state], attempts, due, provider, reason or None, fill, int(updated)),
        )
    db.execute("DROP TABLE deliveries")


def _version_3(db: sqlite3.Connection) -> None:
    """The edition each reader gets (its language tag), kept so that a resumed send sends the
    same one; NULL is the issue's default edition, which every row before editions had."""
    db.execute("ALTER TABLE recipients ADD COLUMN edition TEXT")


def _version_4(db: sqlite3.Connection) -> None:
    """The readers the issue's segment (its ``audience:``) left out of the last fill, by the
    edition they would have got: ``mailer status`` tells them from the readers never queued."""
    db.execute(
        """CREATE TABLE left_out (
            issue INTEGER NOT NULL,   -- issues.id
            edition TEXT NOT NULL,    -- the language tag of the edition they would have got
            segment TEXT NOT NULL,    -- the segment as a person reads it
            readers INTEGER NOT NULL,
            PRIMARY KEY (issue, edition)
        )"""
    )


def _version_5(db: sqlite3.Connection) -> None:
    """The git commit each row was sent from (``[send] require = "committed"``), by number:
    NULL for rows sent without that setting, and for every row before it."""
    db.execute("CREATE TABLE commits (id INTEGER PRIMARY KEY, sha TEXT NOT NULL UNIQUE)")
    db.execute("ALTER TABLE recipients ADD COLUMN source INTEGER")  # commits.id


def _version_6(db: sqlite3.Connection) -> None:
    """No index of the rows in flight: every outcome had to update it (a page more written for
    each message); the fill that finds them, once a send, reads the issue's rows instead."""
    db.execute("DROP INDEX IF EXISTS recipients_sending")


def _version_7(db: sqlite3.Connection) -> None:
    """The transport that carried each sent row (a send may fail over from one to the next),
    by number: NULL for rows sent before it was kept."""
    db.execute("CREATE TABLE transports (id INTEGER PRIMARY KEY, dsn TEXT NOT NULL UNIQUE)")
    db.execute("ALTER TABLE recipients ADD COLUMN transport INTEGER")



def _version_8(db: sqlite3.Connection) -> None:
    """Where each reader came from, for ``mailer status``: "signup" (a confirmed sign-up
    not in the subscribers CSV); NULL is a row of the CSV, as every row before sign-ups."""
    db.execute("ALTER TABLE recipients ADD COLUMN origin TEXT")


def _commit_number(db: sqlite3.Connection, commit: str | None) -> int | None:
    if commit is None:
        return None
    db.execute("INSERT OR IGNORE INTO commits (sha) VALUES (?)", (commit,))
    return db.execute("SELECT id FROM commits WHERE sha = ?", (commit,)).fetchone()[0]


def _issue_number(db: sqlite3.Connection, issue_id: str, domain: str = "") -> int:
    db.execute("INSERT OR IGNORE INTO issues (name, domain) VALUES (?, ?)", (issue_id, domain))
    if domain:
        db.execute("UPDATE issues SET domain = ? WHERE name = ? AND domain = ''",
                   (domain, issue_id))
    return db.execute("SELECT id FROM issues WHERE name = ?", (issue_id,)).fetchone()[0]


# Each step takes the ledger from one schema version (``PRAGMA user_version``) to the next, in
# one transaction (:func:`mailer.database.migrate`); a ledger from before versions were kept is
# version 0 with the table of step 1 already there. Later versions add steps here.
MIGRATIONS: tuple[Migration, ...] = (
    _version_1, _version_2, _version_3, _version_4, _version_5, _version_6,
    _version_7, _version_8,
)
SCHEMA_VERSION = len(MIGRATIONS)
WHAT = "the send ledger"


@dataclass(frozen=True, slots=True)
class LedgerRecipient:
    """A claimed row: enough to build the message again, whatever the CSV says now."""

    id: int
    email: str
    name: str
    data: dict[str, str]
    attempts: int  # finished attempts before this one
    edition: str | None = None  # its language tag; None: the issue's default edition

    def merge_data(self) -> dict[str, str]:
        return self.data

    @property
    def language(self) -> str:
        return self.data["language"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to write for one row after an attempt."""

    id: int
    state: str  # sent | deferred | failed | queued (released, never handed over)
    provider_id: str | None = None
    shared_id: bool = False  # provider_id names the whole request, not this message alone
    reason: str | None = None
    next_attempt_at: float = 0.0
    attempted: bool = True
    park: bool = False  # deferred past this run's retry window: leave it for the next run
    transport: str | None = None  # the transport that carried it (its DSN, password masked)


@dataclass(frozen=True)
class FillResult:
    added: int  # new rows
    total: int  # rows for this issue
    resumed: int  # rows left ``sending`` by an interrupted run, queued again
    left: int  # unsent rows whose reader is not in this audience: held, not sent this time


@dataclass(frozen=True)
class Counts:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sending + self.sent + self.deferred + self.failed

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @property
    def pending(self) -> int:
        return self.queued + self.sending + self.deferred


@dataclass(frozen=True, slots=True)
class Row:
    """One recipient as ``mailer status`` reports it."""

    email: str
    name: str
    state: str
    attempts: int
    next_attempt_at: float
    message_id: str
    provider_id: str
    reason: str
    updated_at: float


class Ledger:
    """The ledger file; safe to share between the runner's threads."""

    def __init__(self, path: Path, *, read_only: bool = False, outcomes: bool = False) -> None:
        """Open (and create) the ledger; ``read_only`` never writes, and needs a ledger there.
        ``outcomes`` (read-only): with the outcomes a send that is running, or was killed, has
        in its journal (a copy of the ledger in memory, when there are any: for ``status``)."""
        self.path = path
        self._lock = threading.Lock()
        self._sender_lock: FileLock | None = None
        self._fills: dict[str, int] = {}  # issue -> this ledger's last fill of it
        self._issues: dict[str, int] = {}  # issue id -> its number in this file
        self._carriers: dict[str, int] = {}  # transport -> its number in this file
        self._journal: int | None = None  # the outcomes journal, while this process sends
        self._journaled = False  # outcomes written to it since it was last folded
        if read_only:
            self._db = self._open_read_only(path)
            if outcomes:
                self._db = _with_journal(self._db, _journal_path(path))
            return
        try:
            self._db = open_shared(path, busy_seconds=10)
            migrate(self._db, path, MIGRATIONS, WHAT)
        except (sqlite3.Error, OSError) as exc:
            raise UnusableDatabase(f"cannot open the send ledger {path}: {exc}") from None

    @classmethod
    def _open_read_only(cls, path: Path) -> sqlite3.Connection:
        """The ledger opened read-only; one of an older schema is brought up to date first
        (an upgrade writes once; every read afterwards writes nothing)."""
        db = cls._connect_read_only(path)
        try:
            version = schema_version(db, path, MIGRATIONS, WHAT)
        except BaseException:
            db.close()
            raise
        if version < SCHEMA_VERSION:
            db.close()
            Ledger(path).close()  # migrates
            db = cls._connect_read_only(path)
        return db

    @staticmethod
    def _connect_read_only(path: Path) -> sqlite3.Connection:
        try:
            db = open_read_only(path, busy_seconds=10)
        except sqlite3.Error as exc:
            raise UnusableDatabase(f"cannot open the send ledger {path}: {exc}") from None
        try:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('deliveries', 'recipients')"
            ).fetchone()
        except sqlite3.OperationalError as exc:  # e.g. a WAL file in a folder it cannot write
            db.close()
            raise UnusableDatabase(f"cannot read the send ledger {path}: {exc}") from None
        except sqlite3.DatabaseError:  # not an SQLite file at all
            found = None
        if found is None:
            db.close()
            raise UnusableDatabase(f"{path} is not a mailer send ledger")
        return db

    def close(self) -> None:
        try:
            if self._journal is not None:
                with self._transaction():
                    pass  # folds the journal
                with self._lock:  # no sending thread writes to it from here on
                    journal, self._journal = self._journal, None
                    os.close(journal)
                with contextlib.suppress(OSError):  # kept (folded twice is once) if it must
                    _journal_path(self.path).unlink(missing_ok=True)
        finally:
            with self._lock:
                self._db.close()
            if self._sender_lock is not None:
                self._sender_lock.release()
                self._sender_lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, the outcomes journal folded into it first (and emptied once
        it is committed, before another thread can append to it)."""
        with self._lock:
            folded = False
            with immediate(self._db) as db:
                if self._journaled and self._journal is not None:
                    _fold(db, _read_journal(self._journal))
                    folded = True
                yield db
            if folded and self._journal is not None:
                os.ftruncate(self._journal, 0)
                self._journaled = False

    def _settled(self) -> None:
        """The journal folded into the table, for a query that reads the rows in flight."""
        if self._journaled:
            with self._transaction():
                pass

    def lock_for_sending(self) -> None:
        """Make sure no other ``mailer send`` uses this ledger; released when it is closed or
        the process ends (an OS lock: a killed sender leaves nothing to clean up)."""
        lock = FileLock(f"{self.path}.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise DeliveryError(
                f"another mailer send is using the ledger {self.path}; wait for it to finish "
                "(or stop it) before starting again"
            ) from None
        self._sender_lock = lock
        journal = _journal_path(self.path)
        # Readable by whoever may read the ledger (0o666 less the umask, as SQLite's files).
        self._journal = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_APPEND | _BINARY, 0o666)
        self._journaled = os.fstat(self._journal).st_size > 0  # left by a killed run
        self._settled()
        # A checkpoint (the WAL copied into the database, with an fsync) every 40 MB of WAL
        # rather than every 4 MB: fewer of them in the middle of a send; closing makes one.
        with self._lock:
            self._db.execute("PRAGMA wal_autocheckpoint = 10000")

    def _issue(self, issue_id: str) -> int | None:
        """The issue's number in this file, or None if it has no rows."""
        number = self._issues.get(issue_id)
        if number is None:
            with self._lock:
                found = self._db.execute(
                    "SELECT id FROM issues WHERE name = ?", (issue_id,)
                ).fetchone()
            if found is None:
                return None
            number = self._issues[issue_id] = found[0]
        return number

    # -- filling --------------------------------------------------------------------------

    def fill(
        self, issue_id: str, audience: Iterable[Recipient], *, domain: str = "",
        edition_of: Callable[[Recipient], str | None] = lambda reader: None,
        commit: str | None = None,
        source_of: Callable[[Recipient], str | None] = lambda reader: None,
    ) -> FillResult:
        """Queue every reader of ``audience`` not yet in the ledger for ``issue_id``.

        Rows a previous run left ``sending`` are queued again (they were in flight when it
        stopped), and deferred ones are due at once (a person asked to go on). From now on
        :meth:`claim` takes only rows of this audience: an unsent row whose reader is not in
        it is not sent, but stays for a later fill that finds the reader again. ``domain`` is
        the Message-ID's domain (the sender's), for reports.

        ``edition_of`` names each reader's edition (None for the default). A row keeps the
        edition of the fill that queued it: a resumed send sends the same edition again.

        ``commit`` is the git commit the messages are made from: every row this fill may send
        records it (a row sent earlier keeps the commit it was sent from).

        ``source_of`` names where each reader came from (None: the subscribers CSV).
        """
        now = int(time.time())
        with self._transaction() as db:
            issue = _issue_number(db, issue_id, domain)
            source = _commit_number(db, commit)
            fill = db.execute(
                "SELECT coalesce(max(fill), 0) + 1 FROM recipients WHERE issue = ?", (issue,)
            ).fetchone()[0]
            before = self._count(db, issue)
            resumed = db.execute(
                "UPDATE recipients SET state = 0, updated_at = ? WHERE issue = ? AND state = 2",
                (now, issue),
            ).rowcount
            db.execute(
                "UPDATE recipients SET next_attempt_at = 0 WHERE issue = ? AND state = 1",
                (issue,),
            )
        self._issues[issue_id] = issue

        def row(reader: Recipient) -> tuple:
            data = reader.merge_data()  # a new dict each call: once a reader
            return (issue, address_key(reader.email), reader.email,
                    *[data.get(column) or None for column in MERGE_COLUMNS],
                    edition_of(reader), source_of(reader), fill, source, now)

        rows = map(row, audience)
        while chunk := list(islice(rows, CHUNK)):
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO recipients (issue, key, email, name, first_name, last_name, "
                    "language, edition, origin, fill, source, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (issue, key) DO UPDATE SET fill = excluded.fill, "
                    "source = excluded.source, "
                    "name = excluded.name, first_name = excluded.first_name, "
                    "last_name = excluded.last_name, language = excluded.language "
                    "WHERE state != 3",
                    chunk,
                )
        with self._lock:
            left = self._db.execute(
                f"SELECT count(*) FROM recipients WHERE issue = ? AND {DUE} AND fill != ?",
                (issue, fill),
            ).fetchone()[0]
            total = self._count(self._db, issue)
        self._fills[issue_id] = fill
        return FillResult(added=total - before, total=total, resumed=resumed, left=left)

    def record_left_out(
        self, issue_id: str, segment: str | None, by_edition: Mapping[str, int]
    ) -> None:
        """What the issue's ``segment`` left out of this fill, by edition (the language tag
        the readers would have got; every edition sent, 0 too); it replaces what an earlier
        fill recorded for those editions. None: the issue has no segment (any more)."""
        with self._transaction() as db:
            issue = _issue_number(db, issue_id)
            db.executemany("DELETE FROM left_out WHERE issue = ? AND edition = ?",
                           [(issue, tag) for tag in by_edition])
            if segment is not None:
                db.executemany(
                    "INSERT INTO left_out (issue, edition, segment, readers) VALUES (?, ?, ?, ?)",
                    [(issue, tag, segment, readers) for tag, readers in by_edition.items()],
                )

    def left_out(self, issue_id: str) -> tuple[str, dict[str, int]] | None:
        """The segment and what it left out of the last fill, by edition; None when the issue
        has no segment (or was last filled before one was recorded)."""
        issue = self._issue(issue_id)
        if issue is None:
            return None
        with self._lock:
            rows = self._db.execute(
                "SELECT segment, edition, readers FROM left_out WHERE issue = ? ORDER BY edition",
                (issue,),
            ).fetchall()
        if not rows:
            return None
        return rows[0][0], {edition: readers for _, edition, readers in rows}

    def _current(self, issue_id: str) -> tuple[int, int]:
        try:
            return self._issues[issue_id], self._fills[issue_id]
        except KeyError:
            raise RuntimeError(f"fill the ledger for {issue_id} before sending it") from None

    @staticmethod
    def _count(db: sqlite3.Connection, issue: int) -> int:
        return db.execute(
            "SELECT count(*) FROM recipients WHERE issue = ?", (issue,)
        ).fetchone()[0]

    # -- sending --------------------------------------------------------------------------

    def claim(self, issue_id: str, limit: int, now: float | None = None) -> list[LedgerRecipient]:
        """Mark up to ``limit`` due rows of the last fill ``sending`` (committed); return them."""
        now = time.time() if now is None else now
        issue, fill = self._current(issue_id)
        with self._transaction() as db:
            rows = db.execute(
                "UPDATE recipients SET state = 2, updated_at = ? WHERE id IN ("
                f" SELECT id FROM recipients WHERE issue = ? AND fill = ? AND {DUE}"
                " AND next_attempt_at <= ? LIMIT ?)"
                " RETURNING id, email, name, first_name, last_name, language, attempts, edition",
                (int(now), issue, fill, now, limit),
            ).fetchall()
        rows.sort()  # RETURNING gives no order; keep the file's
        return [
            LedgerRecipient(row_id, email, name or "", {
                "email": email, "name": name or "", "first_name": first or "",
                "last_name": last or "", "language": language or "",
            }, attempts, edition)
            for row_id, email, name, first, last, language, attempts, edition in rows
        ]

    _RECORD = (
        "UPDATE recipients SET state = ?, provider_id = coalesce(?, provider_id), "
        "request = coalesce(?, request), detail = ?, next_attempt_at = ?, "
        "attempts = attempts + ?, fill = CASE WHEN ? THEN 0 ELSE fill END, "
        "transport = coalesce(?, transport), updated_at = ? WHERE id = ?"
    )

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the outcome of each claimed row, in one transaction."""
        now = int(time.time())
        carriers = {o.transport for o in outcomes if o.transport is not None}
        if len(outcomes) == 1 and not outcomes[0].shared_id and carriers <= self._carriers.keys():
            # The SMTP and outbox case, once a message: while sending, a line of the journal
            # (see the module); otherwise one statement, its own transaction.
            values = self._values(outcomes[0], None, now)
            with self._lock:
                if self._journal is not None:
                    # Each record after a newline of its own: one cut short by a full disk
                    # stays a line apart, which reading skips, and never swallows the next.
                    line = b"\n" + json.dumps(values).encode("utf-8")
                    self._journaled = True
                    if os.write(self._journal, line) != len(line):  # a full disk
                        raise OSError(f"{_journal_path(self.path)}: written in part")
                    return
                self._db.execute(self._RECORD, values)
            return
        with self._transaction() as db:
            for carrier in carriers - self._carriers.keys():
                self._carriers[carrier] = self._numbered(db, "transports", "dsn", carrier)
            requests = {
                o.provider_id: self._numbered(db, "requests", "provider_id", o.provider_id)
                for o in outcomes if o.shared_id and o.provider_id
            }
            db.executemany(
                self._RECORD,
                [self._values(o, requests.get(o.provider_id or ""), now) for o in outcomes],
            )

    def _values(self, outcome: Outcome, request: int | None, now: int) -> tuple:
        o = outcome
        carrier = self._carriers[o.transport] if o.transport is not None else None
        return (
            CODES[o.state], None if o.shared_id else o.provider_id, request, o.reason or None,
            o.next_attempt_at, int(o.attempted), o.park, carrier, now, o.id,
        )

    @staticmethod
    def _numbered(db: sqlite3.Connection, table: str, column: str, value: str) -> int:
        """The number of ``value`` in ``table`` (an ESP's request id, a transport), added the
        first time it is seen."""
        db.execute(f"INSERT OR IGNORE INTO {table} ({column}) VALUES (?)", (value,))
        return db.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()[0]

    def due_now(self, issue_id: str) -> None:
        """Make the deferred rows of the last fill due at once (the send moved to another
        transport: what the last one deferred is not for it to wait out)."""
        issue, fill = self._current(issue_id)
        with self._transaction() as db:
            db.execute(
                "UPDATE recipients SET next_attempt_at = 0 WHERE issue = ? AND fill = ? "
                "AND state = 1", (issue, fill),
            )

    def next_due(self, issue_id: str) -> float | None:
        """When the earliest row of the last fill is due, or None if none is waiting."""
        issue, fill = self._current(issue_id)
        self._settled()
        with self._lock:
            return self._db.execute(
                f"SELECT min(next_attempt_at) FROM recipients WHERE issue = ? AND fill = ? "
                f"AND {DUE}",
                (issue, fill),
            ).fetchone()[0]

    def was_sent(self, issue_id: str | None, email: str) -> bool:
        """Whether ``issue_id`` (any issue, for None) was sent to ``email``."""
        parameters: tuple[int, ...]
        if issue_id is None:
            where, parameters = "issue IN (SELECT id FROM issues)", ()
        else:
            issue = self._issue(issue_id)
            if issue is None:
                return False
            where, parameters = "issue = ?", (issue,)
        with self._lock:
            return self._db.execute(
                f"SELECT 1 FROM recipients WHERE {where} AND key = ? AND state = 3 "
                "AND lower(email) = lower(?) LIMIT 1",
                (*parameters, address_key(email), email),
            ).fetchone() is not None

    def editions_of(self, issue_id: str, emails: Iterable[str]) -> dict[str, str | None]:
        """The edition (None: the default) each of ``emails`` (lower case) was queued for in
        ``issue_id``; addresses the issue was not queued for are left out."""
        issue = self._issue(issue_id)
        wanted = {email.lower() for email in emails}
        found: dict[str, str | None] = {}
        if issue is None:
            return found
        keys = sorted({address_key(email) for email in wanted})
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            with self._lock:
                rows = self._db.execute(
                    f"SELECT lower(email), edition FROM recipients WHERE issue = ? "
                    f"AND key IN ({', '.join('?' * len(chunk))})", (issue, *chunk),
                ).fetchall()
            found.update((email, edition) for email, edition in rows if email in wanted)
        return found

    def sent_times(self, emails: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
        """Each of ``emails`` (lower case) that was sent an issue, with (issue, when it was
        sent) for every issue it was sent."""
        wanted = {email.lower() for email in emails}
        found: dict[str, list[tuple[str, float]]] = {}
        keys = sorted({address_key(email) for email in wanted})
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            with self._lock:  # "issue IN issues": the (issue, key) index serves each issue
                rows = self._db.execute(
                    "SELECT lower(r.email), i.name, r.updated_at FROM recipients r "
                    "JOIN issues i ON i.id = r.issue WHERE r.issue IN (SELECT id FROM issues) "
                    f"AND r.key IN ({', '.join('?' * len(chunk))}) AND r.state = 3", chunk,
                ).fetchall()
            for email, issue, when in rows:
                if email in wanted:
                    found.setdefault(email, []).append((issue, when))
        return found

    def forget(self, email: str) -> int:
        """Erase every row of ``email``, whatever the issue (a person's right to erasure);
        the number of rows erased."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM recipients WHERE key = ? AND lower(email) = lower(?)",
                (address_key(email), email),
            ).rowcount

    # -- reading --------------------------------------------------------------------------

    def counts(self, issue_id: str) -> Counts:
        issue = self._issue(issue_id)
        if issue is None:
            return Counts()
        self._settled()
        with self._lock:
            rows = self._db.execute(
                "SELECT state, count(*) FROM recipients WHERE issue = ? GROUP BY state", (issue,)
            ).fetchall()
        return Counts(**{STATES[state]: count for state, count in rows})

    def sent_by_transport(self, issue_id: str) -> dict[str | None, int]:
        """The rows of the issue sent through each transport (None: sent before the ledger
        kept which), in the order the transports were first used."""
        return self._tally(
            issue_id, "SELECT t.dsn, count(*) FROM recipients r LEFT JOIN transports t "
            "ON t.id = r.transport WHERE r.issue = ? AND r.state = 3 "
            "GROUP BY r.transport ORDER BY r.transport",
        )

    def readers_by_source(self, issue_id: str) -> dict[str | None, int]:
        """How many readers of the issue came from each source (None: the subscribers CSV)."""
        return self._tally(
            issue_id, "SELECT origin, count(*) FROM recipients WHERE issue = ? GROUP BY origin"
        )

    def _tally(self, issue_id: str, query: str) -> dict[str | None, int]:
        """``query`` (of the issue's number, giving a key and a count a row) as a dict."""
        issue = self._issue(issue_id)
        if issue is None:
            return {}
        with self._lock:
            return dict(self._db.execute(query, (issue,)).fetchall())

    def counts_by_edition(self, issue_id: str) -> dict[str | None, Counts]:
        """:meth:`counts` for each edition of the issue (None: the default edition)."""
        issue = self._issue(issue_id)
        if issue is None:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT edition, state, count(*) FROM recipients WHERE issue = ? "
                "GROUP BY edition, state", (issue,)
            ).fetchall()
        tallies: dict[str | None, dict[str, int]] = {}
        for edition, state, count in rows:
            tallies.setdefault(edition, {})[STATES[state]] = count
        return {edition: Counts(**tally) for edition, tally in tallies.items()}

    def rows(self, issue_id: str, states: Sequence[str] = STATES) -> Iterator[Row]:
        """Rows for ``issue_id`` in file order, read in pages (memory stays flat)."""
        issue = self._issue(issue_id)
        if issue is None:
            return
        with self._lock:
            domain = self._db.execute(
                "SELECT domain FROM issues WHERE id = ?", (issue,)
            ).fetchone()[0]
        codes = [CODES[state] for state in states]
        marks = ", ".join("?" * len(codes))
        last = 0
        while True:
            with self._lock:
                page = self._db.execute(
                    "SELECT r.id, email, name, state, attempts, next_attempt_at, "
                    "coalesce(r.provider_id, q.provider_id, ''), coalesce(detail, ''), "
                    "updated_at FROM recipients r LEFT JOIN requests q ON q.id = r.request "
                    f"WHERE issue = ? AND state IN ({marks}) AND r.id > ? ORDER BY r.id LIMIT ?",
                    (issue, *codes, last, CHUNK),
                ).fetchall()
            if not page:
                return
            for _, email, name, state, attempts, due, provider, reason, updated in page:
                yield Row(
                    email, name or "", STATES[state], attempts, due,
                    message_id_for(issue_id, email, domain) if domain else "",
                    provider, reason, updated,
                )
            last = page[-1][0]

    def commits(self, issue_id: str) -> list[str]:
        """The git commits the issue's rows record (``[send] require = "committed"``), the
        first sent from first; empty when none does."""
        issue = self._issue(issue_id)
        if issue is None:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT c.sha FROM recipients r JOIN commits c ON c.id = r.source "
                "WHERE r.issue = ? GROUP BY c.sha ORDER BY min(r.updated_at), c.sha", (issue,)
            ).fetchall()
        return [sha for (sha,) in rows]

    def first_sent(self, issue_id: str) -> float | None:
        """When ``issue_id`` first reached a reader (the earliest sent row), or None if it has
        not yet: the time the archive publishes the issue under, the same on every build."""
        issue = self._issue(issue_id)
        if issue is None:
            return None
        with self._lock:
            return self._db.execute(
                "SELECT min(updated_at) FROM recipients WHERE issue = ? AND state = 3", (issue,)
            ).fetchone()[0]


# -- the outcomes journal (see the module) ---------------------------------------------------

# An outcome from the journal, applied only to a row still in flight: folding a line twice
# (a run killed after a fold's commit, before the journal was emptied) changes nothing.
_FOLD = Ledger._RECORD + " AND state = 2"


# Windows opens a descriptor in text mode unless told: its bytes would not be the ones written.
_BINARY = getattr(os, "O_BINARY", 0)


def _journal_path(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + OUTCOMES)


def _read_journal(journal: int) -> list[tuple]:
    """The outcomes in the journal open as ``journal``; a line cut short (a reader's view of
    a line being written) is left out."""
    os.lseek(journal, 0, os.SEEK_SET)  # (no os.pread: Windows has none; writes append anyway)
    chunks = []
    while chunk := os.read(journal, 1 << 20):
        chunks.append(chunk)
    data = b"".join(chunks)
    outcomes = []
    for line in data.splitlines():
        try:
            outcomes.append(tuple(json.loads(line)))
        except ValueError:
            continue
    return outcomes


def _fold(db: sqlite3.Connection, outcomes: list[tuple]) -> None:
    db.executemany(_FOLD, outcomes)


def _with_journal(db: sqlite3.Connection, journal: Path) -> sqlite3.Connection:
    """``db`` (opened read-only), or, when a send that is running or was killed left outcomes
    in its journal, a copy of it in memory with them folded in: what the ledger will say."""
    try:
        handle = os.open(journal, os.O_RDONLY | _BINARY)
    except FileNotFoundError:
        return db
    except OSError as exc:
        db.close()
        raise UnusableDatabase(f"cannot read the outcomes journal {journal}: {exc}") from None
    try:
        outcomes = _read_journal(handle)  # before the copy: a fold in between applies once
    finally:
        os.close(handle)
    if not outcomes:
        return db
    copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.backup(copy)
    db.close()
    _fold(copy, outcomes)
    return copy
