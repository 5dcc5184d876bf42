"""Secrets come from the environment only, and never leave in any text we write.

A secret (SMTP password, API key, webhook key) is read from a named environment variable by the
code that needs it, never from ``mailer.toml`` or an issue file. :class:`Redactor` removes a
secret from text in every form a server or library might echo it back in: as it is, base64
encoded (HTTP basic auth), percent-encoded (a URL), or form-decoded (``+`` read as a space).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from mailer.errors import MissingSecret


def secret(name: str, purpose: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of the environment variable ``name``; MissingSecret naming it if unset."""
    require([Needed(name, purpose)], environ)
    return (os.environ if environ is None else environ)[name]


@dataclass(frozen=True)
class Needed:
    """A secret a command will need: the environment variable, and what it is for."""

    variable: str
    purpose: str  # "SMTP login as alice": what needs it, said when it is missing
    min_length: int = 1  # a shorter value is as good as none (a key that can be guessed)

    def problem(self, environ: Mapping[str, str] | None = None) -> str | None:
        """What is wrong with the variable in ``environ`` (the process's), or None."""
        value = (os.environ if environ is None else environ).get(self.variable)
        if not value:
            return "not set"
        if len(value) < self.min_length:
            return f"too short: use at least {self.min_length} random characters"
        return None

    def describe(self, problem: str) -> str:
        """``NAME (for PURPOSE): PROBLEM``, never the value."""
        return f"{self.variable} ({self.purpose}): {problem}"


def missing(needed: Iterable[Needed], environ: Mapping[str, str] | None = None) -> list[Needed]:
    """Those of ``needed`` that the environment does not set (or sets empty), once each."""
    values = os.environ if environ is None else environ
    return list(dict.fromkeys(need for need in needed if not values.get(need.variable)))


def too_short(needed: Iterable[Needed], environ: Mapping[str, str] | None = None) -> list[Needed]:
    """Those of ``needed`` that the environment sets, to a value shorter than they need."""
    values = os.environ if environ is None else environ
    return list(dict.fromkeys(
        need for need in needed
        if values.get(need.variable) and len(values[need.variable]) < need.min_length
    ))


def require(needed: Iterable[Needed], environ: Mapping[str, str] | None = None) -> None:
    """MissingSecret naming every one of ``needed`` that is not set or too short, in one
    sentence: a command finds them all before it starts, not one per attempt."""
    needed = list(needed)
    absent, short = missing(needed, environ), too_short(needed, environ)
    if not absent and not short:
        return
    sentences = []
    if absent:
        first, *others = absent
        clauses = [f"{first.purpose} needs the environment variable {first.variable}"]
        clauses += [f"{need.purpose} needs {need.variable}" for need in others]
        listed = clauses[0] if not others else f"{', '.join(clauses[:-1])} and {clauses[-1]}"
        verdict = {1: "it is not set", 2: "neither is set"}.get(len(absent), "none of them is set")
        sentences.append(f"{listed} ({verdict})")
    sentences += [
        f"{need.variable} is too short for {need.purpose}: use a random value of at least "
        f"{need.min_length} characters (32 or more is better)"
        for need in short
    ]
    raise MissingSecret("; ".join(sentences))


def unmet(needs: Iterable[Needed], environ: Mapping[str, str] | None = None) -> list[str]:
    """Each need ``environ`` does not meet, described (:meth:`Needed.describe`), in order."""
    found = []
    for need in dict.fromkeys(needs):
        problem = need.problem(environ)
        if problem is not None:
            found.append(need.describe(problem))
    return found


# Every secret mailer reads, by the environment variable holding it: text leaving the program
# (output, errors) is scrubbed of all of them, whichever part of the code let one through.
SECRET_VARIABLES = (
    "MAILER_SMTP_PASSWORD", "SENDGRID_API_KEY", "MAILGUN_API_KEY", "POSTMARK_SERVER_TOKEN",
    "MAILER_UNSUBSCRIBE_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY", "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "MAILER_WEBHOOK_PASSWORD", "MAILER_SYNC_TOKEN", "MAILER_IMAP_PASSWORD",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
)


def environment_redactor(environ: Mapping[str, str] | None = None) -> Redactor:
    """A Redactor for every secret set in the environment (:data:`SECRET_VARIABLES`)."""
    values = os.environ if environ is None else environ
    return Redactor(values.get(name) for name in SECRET_VARIABLES)


MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; no real secret is that short
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]+=*")


class Redactor:
    """Replaces secrets with ``***`` in text: as they are, percent-encoded, form-decoded, and
    base64 encoded at any position inside a longer encoded value (``AUTH PLAIN``, HTTP basic
    auth)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len)
        self._plain = [*values[::-1], *_url_forms(values)]
        self._cores = [core for value in values for core in _base64_cores(value.encode())]

    def __bool__(self) -> bool:
        return bool(self._plain)

    def __call__(self, text: str) -> str:
        if not self._plain:
            return text
        for value in self._plain:
            text = text.replace(value, REDACTED)
        if self._cores:
            text = _BASE64_RUN.sub(self._encoded, text)
        return text

    def _encoded(self, match: re.Match[str]) -> str:
        run = match.group(0)
        normal = run.replace("-", "+").replace("_", "/")
        return REDACTED if any(core in normal for core in self._cores) else run


REDACTED = "***"


def _url_forms(values: Sequence[str]) -> list[str]:
    """Each value percent-encoded, and as a query string decodes it when it was written there
    unencoded: each ``+`` read as a space."""
    forms = {quote(value, safe="") for value in values} | {quote_plus(value) for value in values}
    forms |= {value.replace("+", " ") for value in values}
    return sorted(forms - set(values), key=len, reverse=True)


def _base64_cores(secret: bytes) -> list[str]:
    """The part of base64 that only ``secret`` decides, for each of the three alignments it
    can have inside a longer value: any encoding that holds the secret holds one of these."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode("ascii").rstrip("=")
        start = -(-8 * offset // 6)  # characters that mix in bits of what comes before
        end = 8 * (offset + len(secret)) // 6  # and after
        core = encoded[start:end]
        if len(core) >= 4:
            cores.append(core)
    return cores
