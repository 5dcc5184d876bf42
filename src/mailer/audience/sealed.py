"""Sealed tokens: bytes only the server can read again, written as base64url in which no naive
reading shows an ``@``.

A token is ``base64url(marker + AES-SIV(key, plain; associated data: marker))`` without
padding. AES-SIV authenticates as it encrypts: a token altered or made up does not open. It is
deterministic, so the same plain bytes give the same token (a resumed send rebuilds the very
same links). The 64-byte key is derived with HKDF-SHA256 from the secret under an info string
that names the purpose: a token sealed for one purpose (an unsubscribe link, a sign-up's
confirmation) never opens as another.

Why the marker is chosen: ciphertext bytes are random, so a naive reading of a token could
show an ``@`` by chance (about one byte in 256 of each alignment), and a scanner looking for
addresses, or a person reviewing a log, would take the link for one that carries an address.
The marker is ``0x80`` plus an attempt counter, also fed to AES-SIV as associated data, so each
attempt gives other bytes; the first token for which no reading shows the byte 0x40 is kept:
neither its base64url decoding at any of its 4 alignments (so of no part of it either), nor any
hex reading (no ``40`` in it at all). For 40 to 60 bytes of plain text one attempt in three or
four passes, so the 128 attempts all fail with a chance near 1e-20; if they ever do (likely
only for plain texts of hundreds of bytes), the first attempt is used: the token still works,
and its chance ``@`` is not an address. With the top bit of the marker set, the first
character is one of ``g``-``_``, never ``A``-``D``: the ``20`` of a ``%20`` before the token (a
mailto subject) cannot join it into an ``@`` either.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MARKERS = range(0x80, 0x100)  # the marker bytes: 0x80 + attempt (see above)
MAX_TOKEN = 1_000  # characters: a longer token is refused before any decoding
BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_AT = 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def shows_an_at(token: str, data: bytes) -> bool:
    """Whether a naive reading of ``token`` (``data`` in base64url) shows the byte ``@``: its
    base64url decoding at any of its 4 alignments (and so of any part of it, such as what a
    standard base64 decoder reads between ``-`` and ``_``), or the hex reading of any part.

    The characters are a stream of 6-bit values; decoding from character k reads the bytes at
    bit offsets 6k, 6k + 8, ...: all of them are among the bytes at even bit offsets, which
    shifting the stream by 0, 2, 4 and 6 bits lines up with whole bytes.
    """
    if _AT in data or "40" in token:  # the first alignment (``data`` itself), or hex: cheap
        return True
    bits = 6 * len(token)
    # The bits of ``data``, and the spare (zero) bits of the last character.
    stream = int.from_bytes(data, "big") << (bits - 8 * len(data))
    for offset in (0, 2, 4, 6):
        lined_up = stream >> ((bits - offset) % 8)
        if _AT in lined_up.to_bytes((lined_up.bit_length() + 7) // 8, "big"):
            return True
    return False


class Sealer:
    """Seals and opens the tokens of one purpose, under a key derived from ``secret``."""

    def __init__(self, secret: str, purpose: bytes) -> None:
        """``purpose``: HKDF's info, naming the use, the format's version and the list."""
        key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=purpose).derive(
            secret.encode("utf-8")
        )
        self._siv = AESSIV(key)

    def seal(self, plain: bytes) -> str:
        """``plain`` as a token no naive reading shows an ``@`` in (see the module)."""
        first = ""
        for marker in MARKERS:
            mark = bytes([marker])
            data = mark + self._siv.encrypt(plain, [mark])
            token = b64(data)
            if not shows_an_at(token, data):
                return token
            first = first or token
        return first

    def open(self, token: str) -> bytes | None:
        """The plain bytes ``token`` seals, or None if it is not one of this purpose's."""
        if not 0 < len(token) <= MAX_TOKEN or not BASE64URL.issuperset(token):
            return None
        try:
            data = unb64(token)
        except (binascii.Error, ValueError):
            return None
        if len(data) < 2 or data[0] not in MARKERS:
            return None
        try:
            return self._siv.decrypt(data[1:], [data[:1]])
        except (InvalidTag, ValueError):
            return None
