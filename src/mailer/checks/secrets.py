"""The secrets a send of this issue needs, named before the send: each one the environment
lacks is a warning, never an error (the send itself refuses, naming them all, before it
connects; ``mailer check`` often runs where the secrets are not, in CI or on a laptop).

Which secrets: what the transport of ``[send] transport`` (or ``MAILER_TRANSPORT``) declares
(:meth:`~mailer.delivery.transports.base.Transport.secrets`): its login, and the key that signs
the readers' unsubscribe links for anything but the outbox.
"""

from __future__ import annotations

import os

from mailer.checks.base import CheckOptions, Finding, finding_maker, settings_location
from mailer.compose.issue import LoadedIssue
from mailer.credentials import Needed, missing
from mailer.delivery.prepare import Prepared
from mailer.delivery.transports import TransportFactory, parse_transport
from mailer.errors import Location, UsageError

CHECK = "secrets"
_finding = finding_maker(CHECK)


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    settings = loaded.settings
    try:
        transports = [
            parse_transport(dsn, settings.base_dir) for dsn in settings.settings.send.transports
        ]
    except UsageError:
        return []  # a DSN that cannot be read is mailer send's to report
    where = (
        Location(loaded.path) if os.environ.get("MAILER_TRANSPORT")
        else settings_location(loaded, "send", "transport")
    )
    # Each secret missing, and the first transport of the list that needs it.
    first_needing: dict[Needed, TransportFactory] = {}
    for transport in transports:
        for need in missing(transport.secrets):
            first_needing.setdefault(need, transport)
    return [
        _finding(
            "warning", f"{need.variable} is not set: a send through {transport} needs it for "
            f"{need.purpose}", where,
            f"set {need.variable} in the environment mailer send runs in (never in mailer.toml)",
        )
        for need, transport in first_needing.items()
    ]
