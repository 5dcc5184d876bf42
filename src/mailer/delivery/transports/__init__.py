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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.delivery.transports.base import (
    Dsn,
    RecipientResult,
    Transport,
    TransportError,
    UnsupportedFeature,
    mask,
)
from mailer.delivery.transports.mailgun import MailgunTransport
from mailer.delivery.transports.outbox import OutboxTransport
from mailer.delivery.transports.postmark import PostmarkTransport
from mailer.delivery.transports.sendgrid import SendGridTransport
from mailer.delivery.transports.smtp import SmtpTransport
from mailer.errors import UsageError

SCHEMES: dict[str, type[Transport]] = {
    "outbox": OutboxTransport,
    "smtp": SmtpTransport,
    "smtps": SmtpTransport,
    "sendgrid": SendGridTransport,
    "mailgun": MailgunTransport,
    "postmark": PostmarkTransport,
}

__all__ = [
    "Dsn", "RecipientResult", "Transport", "TransportError", "TransportFactory",
    "UnsupportedFeature", "mask", "parse_transport",
]


@dataclass(frozen=True)
class TransportFactory:
    """Makes transports for one DSN: the runner opens one per worker thread."""

    dsn: Dsn
    kind: type[Transport]
    base_dir: Path

    def __call__(self) -> Transport:
        return self.kind(self.dsn, self.base_dir)  # type: ignore[call-arg]

    @property
    def is_outbox(self) -> bool:
        return self.kind is OutboxTransport

    @property
    def outbox_path(self) -> Path | None:
        return (self.base_dir / self.dsn.location).resolve() if self.is_outbox else None

    def __str__(self) -> str:
        return str(self.dsn)


def parse_transport(text: str, base_dir: Path) -> TransportFactory:
    """The transport ``text`` names; UsageError (naming the DSN, password masked) if none."""
    dsn = Dsn.parse(text)
    kind = SCHEMES.get(dsn.scheme)
    if kind is None:
        raise UsageError(
            f"transport {dsn}: unknown scheme {dsn.scheme!r} "
            f"(known: {', '.join(f'{s}://' for s in SCHEMES)})"
        )
    return TransportFactory(dsn, kind, base_dir)
