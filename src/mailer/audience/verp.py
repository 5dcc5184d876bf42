"""VERP: an envelope sender per message that tells whom a bounce is about.

With ``[bounces] address = "bounces@example.org"``, the message to each reader leaves with the
envelope sender ``bounces+TOKEN@example.org``, so a bounce, which comes back to that address,
names its reader and issue even when the bouncing server hides them. An RFC 5321 local part is
at most 64 octets and some systems lower-case it: TOKEN is 24 characters of lower-case base32,
an HMAC of the issue and the address (so it cannot be guessed for another reader), and
:class:`VerpTokens` maps it back to (issue, address), in a table of the list's store. The ESPs
set their own return path and report bounces by webhook: VERP is for SMTP and the outbox.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the message builder imports this module, and ``mailer preview`` no SQLite
    import sqlite3

TOKEN_LENGTH = 24  # base32 characters: 120 bits
TABLE = """CREATE TABLE IF NOT EXISTS verp (
    token TEXT PRIMARY KEY, issue TEXT NOT NULL, address TEXT NOT NULL
) WITHOUT ROWID"""
_TOKEN = re.compile(rf"^[a-z2-7]{{{TOKEN_LENGTH}}}$")


class Verp:
    """Tokens and envelope senders for one bounce address, signed with the list's secret."""

    def __init__(self, secret: str, address: str) -> None:
        self._key = b"verp\0" + secret.encode("utf-8")
        self.local, _, self.domain = address.rpartition("@")

    def token(self, issue_id: str, email: str) -> str:
        mac = hmac.digest(self._key, f"{issue_id}\0{email.lower()}".encode(), "sha256")
        return base64.b32encode(mac).decode("ascii").lower()[:TOKEN_LENGTH]

    def envelope(self, issue_id: str, email: str) -> str:
        """``bounces+TOKEN@example.org`` for the message of ``issue_id`` to ``email``."""
        return f"{self.local}+{self.token(issue_id, email)}@{self.domain}"

    def token_of(self, address: str) -> str | None:
        """The token in an address a bounce came back to (any case), if it is one of ours."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        base, plus, token = local.rpartition("+")
        if not plus or base.lower() != self.local.lower() or domain.lower() != self.domain.lower():
            return None
        token = token.lower()
        return token if _TOKEN.match(token) else None


class Store(Protocol):
    """What the tokens need of the list's store (:class:`mailer.audience.store.
    SuppressionStore`, which creates their table)."""

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]: ...


class VerpTokens:
    """The tokens given at send time, kept in the list's store: a bounce to ``bounces+TOKEN@``
    names its issue and reader, whichever process reads it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def register(self, issue: str, tokens: Iterable[tuple[str, str]]) -> None:
        """Remember (token, address) pairs of ``issue``, in one transaction."""
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO verp (token, issue, address) VALUES (?, ?, ?) "
                "ON CONFLICT (token) DO NOTHING",
                [(token, issue, address.lower()) for token, address in tokens],
            )

    def lookup(self, token: str) -> tuple[str, str] | None:
        """(issue, address) ``token`` was given for, if it was."""
        found = self._store.query(
            "SELECT issue, address FROM verp WHERE token = ?", (token.lower(),)
        )
        return (found[0][0], found[0][1]) if found else None
