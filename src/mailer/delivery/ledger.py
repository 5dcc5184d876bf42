"""The send ledger: one SQLite row per (issue, recipient), so a send can always be resumed.

A row moves ``queued`` -> ``sending`` -> ``sent`` | ``deferred`` | ``failed``; ``deferred``
rows come back when their ``next_attempt_at`` is due. Each fill numbers itself and stamps the
rows of its audience; only those are sent, so a reader missing from this run's subscriber list
(unsubscribed, suppressed, or a partial file) is not sent now but keeps its row, and a later
fill that finds it again sends it. The runner marks rows ``sending`` in a
committed transaction *before* the transport sees them and records the outcome right after, so
after a crash (even ``kill -9``) the ``sending`` rows are exactly the messages that may or may
not have gone out. A resumed send sends those again, with the same Message-ID (it is derived
from issue and address), and never touches a ``sent`` row.

The database is in WAL mode with ``synchronous=NORMAL``: a commit survives the process being
killed (not a power cut), and readers such as ``mailer status`` (which opens the file read-only)
never block the sender.
Filling the ledger streams the audience in chunks, so memory does not grow with the list.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.errors import DeliveryError, MailerError

if TYPE_CHECKING:  # importing the message builder would slow ``mailer status`` down
    from mailer.delivery.message import Recipient

STATES = ("queued", "sending", "sent", "deferred", "failed")
CHUNK = 1000  # rows per executemany when filling the ledger

# Each step takes the ledger from one schema version (``PRAGMA user_version``) to the next, in
# one transaction; a ledger from before versions were kept is version 0 with the table of step
# 1 already there, which its ``IF NOT EXISTS`` leaves alone. Later versions add steps here.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 0 -> 1: one row per (issue, recipient)
        """CREATE TABLE IF NOT EXISTS deliveries (
            id INTEGER PRIMARY KEY,
            issue_id TEXT NOT NULL,
            address TEXT NOT NULL,          -- the address in lower case: one row per reader
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            merge_data TEXT NOT NULL,       -- JSON of the subscriber's merge fields
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            message_id TEXT,
            provider_id TEXT,
            response TEXT,                  -- what the server said when it took the message
            reason TEXT,                    -- why it is deferred or failed
            fill INTEGER NOT NULL DEFAULT 0, -- the last fill that found the reader in the
                                             -- audience; a send only claims rows of its fill
            updated_at REAL NOT NULL,
            UNIQUE (issue_id, address)
        )""",
        "CREATE INDEX IF NOT EXISTS deliveries_due "
        "ON deliveries (issue_id, state, next_attempt_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger at ``path`` up to :data:`SCHEMA_VERSION`, a step per transaction.

    MailerError for a ledger written by a newer mailer, whose rows this one cannot read.
    """
    version = _version(db, path)
    for number in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            if _version(db, path) == number:  # another process may have migrated it meanwhile
                for statement in MIGRATIONS[number]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _version(db: sqlite3.Connection, path: Path) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise MailerError(
            f"the send ledger {path} was written by a newer mailer (schema {version}, this one "
            f"knows {SCHEMA_VERSION}): upgrade mailer to use it"
        )
    return version


@dataclass(frozen=True, slots=True)
class LedgerRecipient:
    """A claimed row: enough to build the message again, whatever the CSV says now."""

    id: int
    email: str
    name: str
    data: dict[str, str]
    attempts: int  # finished attempts before this one

    def merge_data(self) -> dict[str, str]:
        return self.data


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to write for one row after an attempt."""

    id: int
    state: str  # sent | deferred | failed | queued (released, never handed over)
    message_id: str | None = None
    provider_id: str | None = None
    response: str | None = None
    reason: str | None = None
    next_attempt_at: float = 0.0
    attempted: bool = True


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


class Ledger:
    """The ledger file; safe to share between the runner's threads."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open (and create) the ledger; ``read_only`` never writes, and needs a ledger there."""
        self.path = path
        self._lock = threading.Lock()
        self._lock_file: int | None = None
        self._fills: dict[str, int] = {}  # issue -> this ledger's last fill of it
        if read_only:
            self._db = self._open_read_only(path)
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            migrate(self._db, path)
        except (sqlite3.Error, OSError) as exc:
            raise MailerError(f"cannot open the send ledger {path}: {exc}") from None

    @classmethod
    def _open_read_only(cls, path: Path) -> sqlite3.Connection:
        """The ledger opened read-only; one of an older schema is brought up to date first
        (an upgrade writes once; every read afterwards writes nothing)."""
        db = cls._connect_read_only(path)
        try:
            version = _version(db, path)
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
            db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise MailerError(f"cannot open the send ledger {path}: {exc}") from None
        try:
            db.execute("PRAGMA busy_timeout=10000")
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'"
            ).fetchone()
        except sqlite3.OperationalError as exc:  # e.g. a WAL file in a folder it cannot write
            db.close()
            raise MailerError(f"cannot read the send ledger {path}: {exc}") from None
        except sqlite3.DatabaseError:  # not an SQLite file at all
            found = None
        if found is None:
            db.close()
            raise MailerError(f"{path} is not a mailer send ledger")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def lock_for_sending(self) -> None:
        """Make sure no other ``mailer send`` uses this ledger; released when the process ends."""
        descriptor = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DeliveryError(
                f"another mailer send is using the ledger {self.path}; wait for it to finish "
                "(or stop it) before starting again"
            ) from None
        self._lock_file = descriptor

    # -- filling --------------------------------------------------------------------------

    def fill(self, issue_id: str, audience: Iterable[Recipient]) -> FillResult:
        """Queue every reader of ``audience`` not yet in the ledger for ``issue_id``.

        Rows a previous run left ``sending`` are queued again (they were in flight when it
        stopped). From now on :meth:`claim` takes only rows of this audience: an unsent row
        whose reader is not in it (unsubscribed, suppressed, or missing from this file) is not
        sent, but stays queued or deferred for a later fill that finds the reader again.
        """
        now = time.time()
        with self._transaction() as db:
            fill = db.execute(
                "SELECT coalesce(max(fill), 0) + 1 FROM deliveries WHERE issue_id = ?", (issue_id,)
            ).fetchone()[0]
            before = self._count(db, issue_id)
            resumed = db.execute(
                "UPDATE deliveries SET state = 'queued', updated_at = ? "
                "WHERE issue_id = ? AND state = 'sending'", (now, issue_id),
            ).rowcount
        rows = (
            (issue_id, r.email.lower(), r.email, r.name or "",
             json.dumps(r.merge_data(), ensure_ascii=False), fill, now)
            for r in audience
        )
        while chunk := list(islice(rows, CHUNK)):
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO deliveries (issue_id, address, email, name, merge_data, fill, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issue_id, address) "
                    "DO UPDATE SET fill = excluded.fill, name = excluded.name, "
                    "merge_data = excluded.merge_data WHERE state != 'sent'",
                    chunk,
                )
        with self._lock:
            left = self._db.execute(
                "SELECT count(*) FROM deliveries "
                "WHERE issue_id = ? AND state IN ('queued', 'deferred') AND fill != ?",
                (issue_id, fill),
            ).fetchone()[0]
            total = self._count(self._db, issue_id)
        self._fills[issue_id] = fill
        return FillResult(added=total - before, total=total, resumed=resumed, left=left)

    def _current_fill(self, issue_id: str) -> int:
        try:
            return self._fills[issue_id]
        except KeyError:
            raise RuntimeError(f"fill the ledger for {issue_id} before sending it") from None

    @staticmethod
    def _count(db: sqlite3.Connection, issue_id: str) -> int:
        return db.execute(
            "SELECT count(*) FROM deliveries WHERE issue_id = ?", (issue_id,)
        ).fetchone()[0]

    # -- sending --------------------------------------------------------------------------

    def claim(self, issue_id: str, limit: int, now: float | None = None) -> list[LedgerRecipient]:
        """Mark up to ``limit`` due rows of the last fill ``sending`` (committed); return them."""
        now = time.time() if now is None else now
        fill = self._current_fill(issue_id)
        with self._transaction() as db:
            rows = db.execute(
                "UPDATE deliveries SET state = 'sending', updated_at = ? WHERE id IN ("
                " SELECT id FROM deliveries WHERE issue_id = ? AND state IN ('queued', 'deferred')"
                " AND fill = ? AND next_attempt_at <= ? LIMIT ?)"
                " RETURNING id, email, name, merge_data, attempts",
                (now, issue_id, fill, now, limit),
            ).fetchall()
        rows.sort()  # RETURNING gives no order; keep the file's
        return [LedgerRecipient(i, e, n, json.loads(d), a) for i, e, n, d, a in rows]

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the outcome of each claimed row, in one transaction."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "UPDATE deliveries SET state = ?, message_id = coalesce(?, message_id), "
                "provider_id = coalesce(?, provider_id), response = coalesce(?, response), "
                "reason = ?, next_attempt_at = ?, attempts = attempts + ?, updated_at = ? "
                "WHERE id = ?",
                [
                    (o.state, o.message_id, o.provider_id, o.response, o.reason,
                     o.next_attempt_at, int(o.attempted), now, o.id)
                    for o in outcomes
                ],
            )

    def next_due(self, issue_id: str) -> float | None:
        """When the earliest row of the last fill is due, or None if none is waiting."""
        fill = self._current_fill(issue_id)
        with self._lock:
            return self._db.execute(
                "SELECT min(next_attempt_at) FROM deliveries "
                "WHERE issue_id = ? AND state IN ('queued', 'deferred') AND fill = ?",
                (issue_id, fill),
            ).fetchone()[0]

    # -- reading --------------------------------------------------------------------------

    def counts(self, issue_id: str) -> Counts:
        with self._lock:
            rows = self._db.execute(
                "SELECT state, count(*) FROM deliveries WHERE issue_id = ? GROUP BY state",
                (issue_id,),
            ).fetchall()
        return Counts(**dict(rows))

    def rows(self, issue_id: str, states: Sequence[str] = STATES) -> Iterator[sqlite3.Row]:
        """Rows for ``issue_id`` in file order, read in pages (memory stays flat)."""
        marks = ", ".join("?" * len(states))
        last = 0
        while True:
            with self._lock:
                cursor = self._db.execute(
                    "SELECT id, email, name, state, attempts, next_attempt_at, message_id, "
                    "provider_id, response, reason, updated_at FROM deliveries "
                    f"WHERE issue_id = ? AND state IN ({marks}) AND id > ? ORDER BY id LIMIT ?",
                    (issue_id, *states, last, CHUNK),
                )
                cursor.row_factory = sqlite3.Row
                page = cursor.fetchall()
            if not page:
                return
            yield from page
            last = page[-1]["id"]
