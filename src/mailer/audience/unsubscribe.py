"""Per-subscriber unsubscribe tokens: opaque to all but us, unforgeable for another reader.

A token is ``"e" + base64url(AES-SIV(key, issue id NUL address))``, its base64url escaped so
that no naive reading of it shows an ``@`` (:mod:`mailer.audience.sealed` says how). Only the
server, which holds ``MAILER_UNSUBSCRIBE_SECRET``, can read the address (lower-cased) and the
issue from it; anyone else sees random characters, so proxy logs, link scanners and forwarded
copies learn nothing about the reader. AES-SIV authenticates as it encrypts: a token altered
or made up fails to open, and is refused. It is deterministic, so a resumed send rebuilds the
very same bytes. The 64-byte key is derived with HKDF-SHA256 from the secret, its info naming
the purpose, the format version and the list id: a token of another list, or any other use of
the secret (VERP), never opens here.

Length: about ``1.1 * 4 * (17 + len(issue id) + len(address in UTF-8)) / 3`` characters (the
16-byte SIV, one NUL; one base64url character in ten escaped): about 100 for a 40-character
address in an issue ``send-test``, about 130 for a 60-character one in an issue of 12.

Tokens of the first sealed format (a marker byte, the encryption tried again until no reading
showed an ``@``) are in emails already sent: they still open (:mod:`mailer.audience.sealed`).

Tokens of the old format, ``base64url(address) "." base64url(HMAC-SHA256(secret, list id NUL
address))``, are in emails already sent: they still verify, without an issue, but are never
made again.
"""

from __future__ import annotations

import binascii
import hmac
import os
from dataclasses import dataclass
from urllib.parse import quote

from mailer.audience.sealed import BASE64URL, MAX_TOKEN, Sealer, b64, unb64
from mailer.credentials import Needed, require

SECRET_VARIABLE = "MAILER_UNSUBSCRIBE_SECRET"
# Anyone can see their own link, so a short secret could be guessed offline from it and then
# sign links for every other address.
MIN_SECRET_LENGTH = 16
# What a real send (and ``mailer serve``) needs: named with the transport's secrets, together.
SECRET_NEED = Needed(SECRET_VARIABLE, "signing the readers' unsubscribe links", MIN_SECRET_LENGTH)
# Used only for the local preview and the outbox transport, where nothing reaches a real reader.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-for-real-sends"

_TOKEN_CHARACTERS = BASE64URL | {"."}  # "." only in the old format


@dataclass(frozen=True)
class Claims:
    """What a genuine token says: the reader's address (lower-cased) and the issue the link
    was sent in (None for tokens of the old format, which did not say)."""

    address: str
    issue: str | None


def unsubscribe_secret(*, required: bool) -> str:
    """The signing secret from the environment; the development one only when not required."""
    if required:
        require([SECRET_NEED])
    return os.environ.get(SECRET_VARIABLE) or DEVELOPMENT_SECRET


class UnsubscribeLinks:
    """Unsubscribe targets (an https URL and, optionally, a mailto) per address, and the
    reading of their tokens."""

    def __init__(
        self, secret: str, list_id: str, url_template: str | None, mailto: str | None,
        issue: str = "", language: str = "", preferences_url: str | None = None,
    ) -> None:
        """``preferences_url``: the preference page (``[list] subscribe_url`` +
        ``/preferences``), which takes the same token."""
        self._sealer = Sealer(secret, b"mailer unsubscribe token v2\0" + list_id.encode("utf-8"))
        self._legacy_key = secret.encode("utf-8")
        self._legacy_prefix = list_id.encode("utf-8") + b"\0"
        self._template = url_template
        self._mailto = mailto
        self._issue_id = issue
        self._issue = quote(issue, safe="")  # for {issue}: which send a reader left from
        self._language = quote(language, safe="")  # for {lang}: the page's language
        self._preferences = preferences_url

    def token(self, email: str) -> str:
        """The token naming ``email`` (lower-cased) and this links' issue."""
        return self._sealer.seal(
            self._issue_id.encode("utf-8") + b"\0" + email.lower().encode("utf-8")
        )

    def read(self, token: str) -> Claims | None:
        """The address and issue ``token`` names, or None if it is not one of ours."""
        if not 0 < len(token) <= MAX_TOKEN or not _TOKEN_CHARACTERS.issuperset(token):
            return None
        if "." in token:
            return self._read_legacy(token)
        plain = self._sealer.open(token)
        if plain is None:
            return None
        issue, nul, address = plain.partition(b"\0")
        if not nul:
            return None
        try:
            return Claims(address.decode("utf-8"), issue.decode("utf-8") or None)
        except UnicodeDecodeError:
            return None

    def verify(self, token: str) -> str | None:
        """The address ``token`` was issued for, or None if it is not genuine."""
        claims = self.read(token)
        return claims.address if claims is not None else None

    def _read_legacy(self, token: str) -> Claims | None:
        """A token of the old format, from emails sent before: its address, if genuine."""
        try:
            address = unb64(token.partition(".")[0]).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        plain = address.lower().encode("utf-8")
        mac = hmac.digest(self._legacy_key, self._legacy_prefix + plain, "sha256")
        if not hmac.compare_digest(f"{b64(plain)}.{b64(mac)}", token):
            return None
        return Claims(address, None)

    def targets(self, email: str) -> tuple[str | None, str | None]:
        """The https URL and the mailto target (each None if not configured), one token for
        both."""
        url, mailto, _ = self.links(email)
        return url, mailto

    def links(self, email: str) -> tuple[str | None, str | None, str | None]:
        """The https URL, the mailto target and the preference page (each None if not
        configured), one token for all (none made without a target: a notice's)."""
        if not (self._template or self._mailto or self._preferences):
            return None, None, None
        token = self.token(email)
        preferences = None
        if self._preferences:
            preferences = f"{self._preferences}?token={token}&lang={self._language}"
        url = None
        if self._template:
            url = self._template.format(token=token, issue=self._issue, lang=self._language)
        if not self._mailto:
            return url, None, preferences
        return url, f"mailto:{self._mailto}?subject=unsubscribe%20{token}", preferences
