"""The SQLite files mailer keeps (the send ledger, the suppression store), opened one way.

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
from collections.abc import Iterator
from pathlib import Path


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
