"""The link of a sign-up's confirmation email: opaque, unforgeable, and good for 7 days.

A token is ``base64url(marker + AES-SIV(key, issued-at (8 bytes) + address))`` without padding,
made as the unsubscribe tokens are (:mod:`mailer.audience.unsubscribe`): the same marker
chosen so that no naive reading shows an ``@``, the same authenticated encryption (a token
altered or made up does not open), and a key derived with HKDF-SHA256 from
``MAILER_UNSUBSCRIBE_SECRET`` under an info string of its own: a confirmation token never
opens as an unsubscribe token, nor the other way round. Only the server reads the address
in it; the link carries nothing readable.
"""

from __future__ import annotations

import binascii
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailer.audience.unsubscribe import MARKERS, MAX_TOKEN, b64, shows_an_at, unb64

VALID_FOR = 7 * 86400  # seconds a confirmation link works
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


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
        key = HKDF(
            algorithm=hashes.SHA256(), length=64, salt=None,
            info=b"mailer sign-up confirmation token v1\0" + list_id.encode("utf-8"),
        ).derive(secret.encode("utf-8"))
        self._siv = AESSIV(key)

    def make(self, email: str, now: float | None = None) -> str:
        """The token confirming ``email`` (lower-cased), issued ``now``."""
        issued = int(time.time() if now is None else now)
        plain = issued.to_bytes(8, "big") + email.lower().encode("utf-8")
        first = ""
        for marker in MARKERS:
            mark = bytes([marker])
            data = mark + self._siv.encrypt(plain, [mark])
            token = b64(data)
            if not shows_an_at(token, data):
                return token
            first = first or token
        return first

    def read(self, token: str) -> Confirmation | None:
        """What ``token`` says, or None if it is not one of ours (expired ones are read: the
        caller says "expired" rather than "not valid")."""
        if not 0 < len(token) <= MAX_TOKEN or not _BASE64URL.issuperset(token):
            return None
        try:
            data = unb64(token)
        except (binascii.Error, ValueError):
            return None
        if len(data) < 2 or data[0] not in MARKERS:
            return None
        try:
            plain = self._siv.decrypt(data[1:], [data[:1]])
        except (InvalidTag, ValueError):
            return None
        if len(plain) < 9:
            return None
        try:
            address = plain[8:].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return Confirmation(address, int.from_bytes(plain[:8], "big"))
