"""Transports, chosen by a DSN as in Symfony Mailer: ``smtp://user@host:587``, ``outbox://outbox``.

=====================================  =============================================
``outbox://PATH``                      a Maildir folder (the default; no server needed)
``smtp://[USER@]HOST[:PORT]``          SMTP with STARTTLS (``?tls=none``, ``?cafile=``)
``smtps://[USER@]HOST[:PORT]``         SMTP over TLS, port 465 by default
``sendgrid://``                        SendGrid v3 API (``SENDGRID_API_KEY``)
``mailgun://DOMAIN[?region=eu]``       Mailgun API (``MAILGUN_API_KEY``)
``postmark://[?stream=broadcast]``     Postmark batch API (``POSTMARK_SERVER_TOKEN``)
=====================================  =============================================

ESPs take ``?endpoint=URL`` to talk to another base URL (a test server, a compatible service).

The factory is the only place a transport gets a secret: it reads the variable the transport
names from the environment it is given, so the transports themselves never read settings or
the environment. Each transport module is imported only when its scheme is used (an HTTP
library costs start-up time that an outbox send need not pay).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mailer.credentials import SecretNeed, require
from mailer.delivery.transports.base import Dsn, RecipientResult, Transport, mask
from mailer.errors import UsageError

# scheme -> "module:class" in this package
SCHEMES: dict[str, str] = {
    "outbox": "outbox:OutboxTransport",
    "smtp": "smtp:SmtpTransport",
    "smtps": "smtp:SmtpTransport",
    "sendgrid": "sendgrid:SendGridTransport",
    "mailgun": "mailgun:MailgunTransport",
    "postmark": "postmark:PostmarkTransport",
}

__all__ = ["SCHEMES", "Dsn", "RecipientResult", "Transport", "TransportFactory", "mask",
           "parse_transport", "transport_class", "transport_secrets"]


def transport_class(scheme: str) -> type[Transport]:
    """The class for ``scheme`` (one of :data:`SCHEMES`)."""
    module, name = SCHEMES[scheme].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


@dataclass(frozen=True)
class TransportFactory:
    """Makes transports for one DSN: the runner opens one per worker thread."""

    dsn: Dsn
    kind: type[Transport]
    base_dir: Path
    secret: str | None = field(default=None, repr=False)

    def __call__(self) -> Transport:
        return self.kind(self.dsn, self.base_dir, self.secret)

    @property
    def is_outbox(self) -> bool:
        return self.dsn.scheme == "outbox"

    @property
    def outbox_path(self) -> Path | None:
        return (self.base_dir / self.dsn.location).resolve() if self.is_outbox else None

    def __str__(self) -> str:
        return str(self.dsn)


def _kind(dsn: Dsn) -> type[Transport]:
    """The transport class for ``dsn``, its options checked; UsageError if there is none."""
    if dsn.scheme not in SCHEMES:
        raise UsageError(
            f"transport {dsn}: unknown scheme {dsn.scheme!r} "
            f"(known: {', '.join(f'{s}://' for s in SCHEMES)})"
        )
    kind = transport_class(dsn.scheme)
    dsn.check_options(kind.options)
    return kind


def transport_secrets(text: str) -> tuple[SecretNeed, ...]:
    """The secrets the transport ``text`` names needs (UsageError if it names none)."""
    dsn = Dsn.parse(text)
    return _kind(dsn).secrets(dsn)


def parse_transport(
    text: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> TransportFactory:
    """The transport ``text`` names, with its secret from ``environ`` (the process's).

    UsageError (naming the DSN, password masked) if there is no such transport;
    MissingSecret naming the variable if the transport needs a secret that is not set.
    """
    dsn = Dsn.parse(text)
    kind = _kind(dsn)
    values = os.environ if environ is None else environ
    needs = kind.secrets(dsn)
    require(needs, values)
    return TransportFactory(dsn, kind, base_dir, values[needs[0].variable] if needs else None)
