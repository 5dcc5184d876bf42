"""Transports, chosen by a DSN as in Symfony Mailer: ``smtp://user@host:587``, ``outbox://outbox``.

=====================================  =============================================
``outbox://PATH``                      a Maildir folder (the default; no server needed)
``smtp://[USER@]HOST[:PORT]``          SMTP with STARTTLS (``?tls=none``, ``?cafile=``)
``smtps://[USER@]HOST[:PORT]``         SMTP over TLS, port 465 by default
``sendgrid://``                        SendGrid v3 API (``SENDGRID_API_KEY``)
``mailgun://DOMAIN[?region=eu]``       Mailgun API (``MAILGUN_API_KEY``)
``postmark://[?stream=broadcast]``     Postmark batch API (``POSTMARK_SERVER_TOKEN``)
``ses://REGION[?configuration_set=]``  Amazon SES v2, raw messages (``AWS_*`` or ``?profile=``)
=====================================  =============================================

ESPs take ``?endpoint=URL`` to talk to another base URL (a test server, a compatible service).

The factory is the only place a transport gets a secret: it reads the variable the transport
names from the environment it is given, so the transports themselves never read settings or
the environment. Each transport class declares the secrets a send through it needs
(:meth:`Transport.secrets`), which the send requires, all at once, before it connects. Each
transport module is imported only when its scheme is used (an HTTP library costs start-up time
that an outbox send need not pay).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mailer.credentials import Needed, require
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
    "ses": "ses:SesTransport",
}

__all__ = [
    "SCHEMES",
    "Dsn",
    "RecipientResult",
    "Transport",
    "TransportFactory",
    "login_for",
    "mask",
    "parse_transport",
    "secret_variable_for",
    "transport_class",
]


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
        """A transport; MissingSecret when its login needs a secret the environment lacked."""
        login = self.kind.login(self.dsn)
        if login is not None and self.secret is None:
            require([login], {})  # (a send has required every secret before this)
        return self.kind(self.dsn, self.base_dir, self.secret)

    @property
    def secrets(self) -> list[Needed]:
        """Every secret a send through this transport needs, as its class declares them."""
        return self.kind.secrets(self.dsn)

    @property
    def reaches_readers(self) -> bool:
        """Whether readers get what it sends: their unsubscribe links are then signed for real."""
        return self.kind.reaches_readers

    @property
    def smtputf8(self) -> bool:
        """Whether it carries an address whose local part is not ASCII."""
        return self.kind.smtputf8

    @property
    def outbox_path(self) -> Path | None:
        if self.dsn.scheme != "outbox":
            return None
        return (self.base_dir / self.dsn.location).resolve()

    def __str__(self) -> str:
        return str(self.dsn)


def parse_transport(
    text: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> TransportFactory:
    """The transport ``text`` names, with its login secret from ``environ`` (the process's)
    when it is set; making a transport without it is MissingSecret.

    UsageError (naming the DSN, password masked) if there is no such transport. Nothing here
    connects or looks a name up.
    """
    dsn, kind = _named(text)
    login = kind.login(dsn)
    value = None
    if login is not None:
        value = (os.environ if environ is None else environ).get(login.variable) or None
    return TransportFactory(dsn, kind, base_dir, value)


def login_for(text: str) -> Needed | None:
    """The login secret the transport ``text`` needs, or None when it needs none (the outbox,
    SMTP without a user); nothing is read from the environment. UsageError, as from
    :func:`parse_transport`, if there is no such transport."""
    dsn, kind = _named(text)
    return kind.login(dsn)


def secret_variable_for(text: str) -> str | None:
    """The environment variable :func:`login_for` names, or None."""
    login = login_for(text)
    return login.variable if login is not None else None


def _named(text: str) -> tuple[Dsn, type[Transport]]:
    """The DSN ``text`` and the transport it names, its options checked."""
    dsn = Dsn.parse(text)
    if dsn.scheme not in SCHEMES:
        raise UsageError(
            f"transport {dsn}: unknown scheme {dsn.scheme!r} "
            f"(known: {', '.join(f'{s}://' for s in SCHEMES)})"
        )
    kind = transport_class(dsn.scheme)
    dsn.check_options(kind.options)
    return dsn, kind
