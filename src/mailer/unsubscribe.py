"""Per-subscriber unsubscribe links that cannot be forged for another address.

The token is ``base64url(address) "." base64url(HMAC-SHA256(secret, list id + address))``: the
unsubscribe page can read the address from it and check, with the same secret, that the link
was issued by us for exactly that address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from urllib.parse import quote

from mailer.errors import MailerError

SECRET_VARIABLE = "MAILER_UNSUBSCRIBE_SECRET"
# Used only for the local preview and the outbox transport, where nothing reaches a real reader.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-for-real-sends"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsubscribe_secret(*, required: bool) -> str:
    """The signing secret from the environment; the development one only when not required."""
    value = os.environ.get(SECRET_VARIABLE)
    if value:
        return value
    if required:
        raise MailerError(
            f"sending needs {SECRET_VARIABLE} (a long random string that signs unsubscribe links)"
        )
    return DEVELOPMENT_SECRET


class UnsubscribeLinks:
    def __init__(self, secret: str, list_id: str, url_template: str, mailto: str | None) -> None:
        self._key = secret.encode("utf-8")
        self._list_id = list_id
        self._template = url_template
        self._mailto = mailto

    def token(self, email: str) -> str:
        address = email.lower().encode("utf-8")
        mac = hmac.new(self._key, self._list_id.encode() + b"\0" + address, hashlib.sha256)
        return f"{_b64(address)}.{_b64(mac.digest())}"

    def verify(self, token: str) -> str | None:
        """The address ``token`` was issued for, or None if it is not genuine."""
        try:
            encoded, _ = token.split(".", 1)
            address = _unb64(encoded).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return address if hmac.compare_digest(self.token(address), token) else None

    def url(self, email: str) -> str:
        return self._template.format(token=self.token(email), email=quote(email, safe="@"))

    def mailto(self, email: str) -> str | None:
        if not self._mailto:
            return None
        return f"mailto:{self._mailto}?subject=unsubscribe%20{self.token(email)}"
