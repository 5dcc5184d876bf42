"""Per-subscriber unsubscribe links that cannot be forged for another address.

The token is ``base64url(address) "." base64url(HMAC-SHA256(secret, list id + address))``: the
unsubscribe page can read the address from it and check, with the same secret, that the link
was issued by us for exactly that address (and this list).
"""

from __future__ import annotations

import base64
import hmac
import os
from urllib.parse import quote

from mailer.errors import MissingSecret

SECRET_VARIABLE = "MAILER_UNSUBSCRIBE_SECRET"
# Anyone can see their own link, so a short secret could be guessed offline from it and then
# sign links for every other address.
MIN_SECRET_LENGTH = 16
# Used only for the local preview and the outbox transport, where nothing reaches a real reader.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-for-real-sends"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsubscribe_secret(*, required: bool) -> str:
    """The signing secret from the environment; the development one only when not required."""
    value = os.environ.get(SECRET_VARIABLE)
    if required:
        if not value:
            raise MissingSecret(
                f"sending needs {SECRET_VARIABLE} (a long random string that signs "
                "unsubscribe links); set it in the environment, never in mailer.toml"
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise MissingSecret(
                f"{SECRET_VARIABLE} is too short to keep unsubscribe links from being forged: "
                f"use at least {MIN_SECRET_LENGTH} random characters (32 or more is better)"
            )
    return value or DEVELOPMENT_SECRET


class UnsubscribeLinks:
    """Signed unsubscribe targets (an https URL and, optionally, a mailto) per address."""

    def __init__(
        self, secret: str, list_id: str, url_template: str, mailto: str | None,
        issue: str = "", language: str = "",
    ) -> None:
        self._key = secret.encode("utf-8")
        self._prefix = list_id.encode("utf-8") + b"\0"
        self._template = url_template
        self._mailto = mailto
        self._issue = quote(issue, safe="")  # for {issue}: which send a reader left from
        self._language = quote(language, safe="")  # for {lang}: the page's language

    def token(self, email: str) -> str:
        address = email.lower().encode("utf-8")
        mac = hmac.digest(self._key, self._prefix + address, "sha256")
        return f"{_b64(address)}.{_b64(mac)}"

    def verify(self, token: str) -> str | None:
        """The address ``token`` was issued for, or None if it is not genuine."""
        try:
            encoded, _ = token.split(".", 1)
            address = _unb64(encoded).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return address if hmac.compare_digest(self.token(address), token) else None

    def targets(self, email: str) -> tuple[str, str | None]:
        """The https URL and the mailto target (None if not configured), one token for both."""
        token = self.token(email)
        url = self._template.format(
            token=token, email=quote(email, safe="@"), issue=self._issue, lang=self._language
        )
        if not self._mailto:
            return url, None
        return url, f"mailto:{self._mailto}?subject=unsubscribe%20{token}"
