"""Keys of signed requests already accepted (a webhook's nonce or signature): a replay of a
captured request is refused, though its signature is genuine.

The keys live in the list's store, beside the events the request recorded, and are claimed in
the same transaction, so a request is either recorded with its key or not at all. A provider's
signed timestamp refuses anything older than :data:`KEPT_SECONDS` anyway, so older keys go.
"""

from __future__ import annotations

import sqlite3

KEPT_SECONDS = 3600
TABLE = "CREATE TABLE IF NOT EXISTS replays (key TEXT PRIMARY KEY, seen REAL NOT NULL)"


def claim(db: sqlite3.Connection, key: str, now: float) -> bool:
    """Take ``key`` for this request, inside the caller's transaction; False if a request with
    the same key was accepted before (a replay)."""
    db.execute("DELETE FROM replays WHERE seen < ?", (now - KEPT_SECONDS,))
    return bool(db.execute(
        "INSERT INTO replays (key, seen) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, now)
    ).rowcount)
