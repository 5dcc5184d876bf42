"""Secrets come from the environment only, and never leave in any text we write.

A secret (SMTP password, API key, webhook key) is read from a named environment variable by the
code that needs it, never from ``mailer.toml`` or an issue file. :class:`Redactor` removes a
secret from text in every form a server or library might echo it back in: as it is, base64
encoded (HTTP basic auth), or percent-encoded (a URL).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mailer.errors import MissingSecret


def secret(name: str, purpose: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of the environment variable ``name``; MissingSecret naming it if unset."""
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise MissingSecret(f"{purpose} needs the environment variable {name} (it is not set)")
    return value
