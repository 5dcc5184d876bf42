"""The SQLite files mailer keeps (the send ledger, the suppression store), opened one way,
and brought up to their schema one way.

Both are shared by processes that run at once (a send, ``mailer serve``, ``mailer bounces``,
``mailer status``): WAL lets readers go on while one writer writes, ``synchronous=NORMAL``
keeps every commit across a killed process (not a power cut), and a writer takes the write
lock at once (``BEGIN IMMEDIATE``) and waits up to ``busy_seconds`` for it, rather than
failing half-way through a transaction that started as a read.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mailer.errors import UnusableDatabase

Migration = Callable[[sqlite3.Connection], None]


def open_shared(path: Path, busy_seconds: float) -> sqlite3.Connection:
    """``path`` opened (and created, with its folder) for reading and writing; sqlite3.Error or
    OSError when it cannot be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
    return db


@contextlib.contextmanager
def immediate(
    db: sqlite3.Connection, lock: threading.Lock | None = None
) -> Iterator[sqlite3.Connection]:
    """One write transaction, holding ``lock`` (the threads sharing ``db``): committed when the
    block ends, rolled back when it raises."""
    with lock if lock is not None else contextlib.nullcontext():
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def open_read_only(path: Path, busy_seconds: float) -> sqlite3.Connection:
    """``path`` opened so that nothing can be written through the connection (the file must
    exist); sqlite3.Error when it cannot be."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
    return db


def schema_version(db: sqlite3.Connection, path: Path, steps: Sequence[Migration],
                   what: str) -> int:
    """The file's schema version (``PRAGMA user_version``); UnusableDatabase for one written by a
    newer mailer, whose rows this one cannot read."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(steps):
        raise UnusableDatabase(
            f"{what} {path} was written by a newer mailer (schema {version}, this one knows "
            f"{len(steps)}): upgrade mailer to use it"
        )
    return version


def migrate(db: sqlite3.Connection, path: Path, steps: Sequence[Migration], what: str) -> None:
    """Bring the file at ``path`` up to the last of ``steps``, one step per transaction.

    Step ``n`` takes the file from version ``n`` to ``n + 1``; a file from before versions were
    kept is version 0. Another process may migrate the same file at the same time: each step
    runs only if the version is still the one it starts from.
    """
    for number in range(schema_version(db, path, steps, what), len(steps)):
        with immediate(db):
            if schema_version(db, path, steps, what) == number:
                steps[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")
