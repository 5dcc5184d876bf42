"""The link of a sign-up's confirmation email: opaque, unforgeable, and good for 7 days.

A token is sealed as the unsubscribe tokens are (:mod:`mailer.audience.sealed`): AES-SIV of
issued-at (8 bytes) + address, written in base64url characters of which no naive reading
shows an ``@``; authenticated encryption (a token altered or made up does not open), and a key
derived with HKDF-SHA256 from ``MAILER_UNSUBSCRIBE_SECRET`` under an info string of its own: a
confirmation token never opens as an unsubscribe token, nor the other way round. Only the
server reads the address in it; the link carries nothing readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailer.audience.sealed import Sealer

VALID_FOR = 7 * 86400  # seconds a confirmation link works


@dataclass(frozen=True)
class Confirmation:
    """What a genuine token says: the address signed up (lower-cased) and when it was made."""

    address: str
    issued_at: int  # seconds since the epoch

    def expired(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return not self.issued_at - 300 <= now <= self.issued_at + VALID_FOR


class ConfirmTokens:
    """Makes and reads the confirmation links' tokens of one list."""

    def __init__(self, secret: str, list_id: str) -> None:
        self._sealer = Sealer(
            secret, b"mailer sign-up confirmation token v1\0" + list_id.encode("utf-8")
        )

    def make(self, email: str, now: float | None = None) -> str:
        """The token confirming ``email`` (lower-cased), issued ``now``."""
        issued = int(time.time() if now is None else now)
        return self._sealer.seal(issued.to_bytes(8, "big") + email.lower().encode("utf-8"))

    def read(self, token: str) -> Confirmation | None:
        """What ``token`` says, or None if it is not one of ours (expired ones are read: the
        caller says "expired" rather than "not valid")."""
        plain = self._sealer.open(token)
        if plain is None or len(plain) < 9:
            return None
        try:
            address = plain[8:].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return Confirmation(address, int.from_bytes(plain[:8], "big"))
