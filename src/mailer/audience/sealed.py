"""Sealed tokens: bytes only the server can read again, written in base64url characters of which
no naive reading shows an ``@``.

A token is ``"e" + escaped(base64url(AES-SIV(key, plain; associated data: "e")))`` without
padding. AES-SIV authenticates as it encrypts: a token altered or made up does not open. It is
deterministic, so the same plain bytes give the same token (a resumed send rebuilds the very
same links). The 64-byte key is derived with HKDF-SHA256 from the secret under an info string
that names the purpose: a token sealed for one purpose (an unsubscribe link, a sign-up's
confirmation) never opens as another.

Why escaped: ciphertext bytes are random, so a naive reading of a token could show an ``@`` by
chance, and a scanner looking for addresses, or a person reviewing a log, would take the link
for one that carries an address. A byte of a base64 decoding is made of two neighbouring
characters, and it is ``@`` (0x40) only when one of these is the second of them: ``A`` to ``D``
(6-bit values 0 to 3), or after a ``Q`` (16) any of ``A`` to ``P``; a hex reading needs ``4``
then ``0``. So a text of the other 58 base64url characters (:data:`SAFE`) shows no ``@`` when
decoded from any character on, as base64url or standard base64 (which skips or stops at ``-``
and ``_``, joining only safe characters), nor as hex; ``tests/test_unsubscribe.py`` checks
every pair. The escaping writes each of ``A B C D Q 4`` as ``_`` and a safe stand-in, and ``_``
as ``__``: about one character in ten becomes two (a token is ~10 % longer than the base64url
of its bytes), and no token needs a second encryption.

The first character, ``e``, says the format: tokens of the first format (:data:`MARKERS`, in
mail already sent) start with one of ``g`` to ``_``. Those were ``base64url(marker +
AES-SIV(key, plain; associated data: marker))``, the marker ``0x80`` plus the number of
encryptions tried until no reading showed an ``@`` (2.6 on average): they still open, and are
never made again.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = "e"  # the first character of a token of this format (and its associated data)
_ASSOCIATED = FORMAT.encode("ascii")
MARKERS = range(0x80, 0x100)  # the first byte of a token of the first format
MAX_TOKEN = 1_000  # characters: a longer token is refused before any decoding
BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ESCAPE = "_"
# Each base64url character a reading could turn into an "@", and what stands for it after "_".
_STAND_INS = {"A": "a", "B": "b", "C": "c", "D": "d", "Q": "q", "4": "f", ESCAPE: ESCAPE}
SAFE = BASE64URL - _STAND_INS.keys() | {ESCAPE}  # every character a token of this format has
_ESCAPED = re.compile(f"{ESCAPE}(.?)")
_FROM_STAND_IN = {stand_in: character for character, stand_in in _STAND_INS.items()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def escaped(text: str) -> str:
    """``text`` (base64url) in :data:`SAFE` characters: see the module."""
    text = text.replace(ESCAPE, ESCAPE * 2)  # first: the others bring in escapes of their own
    for character, stand_in in _STAND_INS.items():
        if character != ESCAPE:
            text = text.replace(character, ESCAPE + stand_in)
    return text


def unescaped(text: str) -> str:
    """The base64url text :func:`escaped` made ``text`` of; ValueError if it made no such."""

    def original(match: re.Match[str]) -> str:
        character = _FROM_STAND_IN.get(match.group(1))
        if character is None:
            raise ValueError("not an escape")
        return character

    return _ESCAPED.sub(original, text)


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
        return FORMAT + escaped(b64(self._siv.encrypt(plain, [_ASSOCIATED])))

    def open(self, token: str) -> bytes | None:
        """The plain bytes ``token`` seals, or None if it is not one of this purpose's."""
        if not 0 < len(token) <= MAX_TOKEN or not BASE64URL.issuperset(token):
            return None
        if token[0] == FORMAT:
            return self._open(token[1:])
        return self._open_first_format(token)

    def _open(self, text: str) -> bytes | None:
        try:
            data = unb64(unescaped(text))
        except (binascii.Error, ValueError):
            return None
        if FORMAT + escaped(b64(data)) != FORMAT + text:
            return None  # one token for each plain text: no other spelling of it
        return self._decrypt(data, _ASSOCIATED)

    def _open_first_format(self, token: str) -> bytes | None:
        try:
            data = unb64(token)
        except (binascii.Error, ValueError):
            return None
        if len(data) < 2 or data[0] not in MARKERS:
            return None
        return self._decrypt(data[1:], data[:1])

    def _decrypt(self, data: bytes, associated: bytes) -> bytes | None:
        try:
            return self._siv.decrypt(data, [associated])
        except (InvalidTag, ValueError):
            return None

