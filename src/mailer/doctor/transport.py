"""The transport: read as a send reads it, then logged in to as a send does, sending nothing.

``verify`` is the transport's own check before a send (SMTP: connect, TLS as configured, AUTH,
QUIT; an ESP: its documented read-only call), so the doctor and ``mailer send`` can never
disagree about whether the login works.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mailer.credentials import unmet
from mailer.delivery.transports import (
    Dsn,
    Transport,
    TransportFactory,
    login_for,
    parse_transport,
)
from mailer.doctor.report import Finding
from mailer.errors import DeliveryError, UsageError

GOING_LIVE = (
    "set [send] transport (or MAILER_TRANSPORT) to your mail server, such as "
    "smtp://newsletter@smtp.example.org:587, or to an ESP: mailgun://mg.example.org, "
    "sendgrid://, postmark://"
)


def check(
    transport: str, base_dir: Path, environ: Mapping[str, str], *, offline: bool,
    topics: Sequence[str] = (),
) -> list[Finding]:
    """The transport's findings; for Amazon SES, also whether its configuration set publishes
    bounces and complaints to one of ``topics`` (``[webhooks] ses_topics``)."""
    try:
        login = login_for(transport)
        missing = unmet([login] if login else [], environ)
        if missing:
            return [Finding(
                "transport", "note", f"{Dsn.parse(transport)}: not tried, its secret is missing "
                "(see the secrets above)",
            )]
        factory = parse_transport(transport, base_dir, environ)
        opened = factory()
    except UsageError as exc:  # the DSN, an option, a cafile, an unusable key
        return [Finding("transport", "error", str(exc), GOING_LIVE)]
    try:
        if factory.outbox_path is not None:
            return [Finding(
                "transport", "warning", f"the transport is the outbox folder "
                f"{factory.outbox_path}: messages are written there, and nobody gets them",
                GOING_LIVE,
            )]
        if offline:
            return [Finding("transport", "note", f"{factory}: read, login not tried (--offline)")]
        verified = _login(factory, opened)
        if verified.severity != "ok" or factory.dsn.scheme != "ses":
            return [verified]
        return [verified, _ses_feedback(opened, topics)]
    finally:
        opened.close()


def _ses_feedback(opened: Transport, topics: Sequence[str]) -> Finding:
    """Whether SES's bounces and complaints reach ``mailer serve`` (its /webhooks/ses)."""
    from mailer.delivery.transports.ses import SesTransport

    assert isinstance(opened, SesTransport)
    webhook = "https://YOUR-SERVER/webhooks/ses"
    if opened.configuration_set is None:
        return Finding(
            "transport", "warning", "ses:// names no configuration set: bounces and "
            "complaints reach mailer only if the identity's own notifications go to an SNS "
            "topic of [webhooks] ses_topics",
            "add ?configuration_set=NAME, a set whose event destination publishes Bounce and "
            f"Complaint to an SNS topic subscribed to {webhook}",
        )
    try:
        published = opened.feedback_topics()
    except (UsageError, DeliveryError) as exc:
        return Finding("transport", "error", str(exc), "check the configuration set's name")
    listed = [topic for topic in published if topic in topics]
    if listed:
        return Finding(
            "transport", "ok", f"the configuration set {opened.configuration_set} publishes "
            f"bounces and complaints to {listed[0]}, which [webhooks] ses_topics lists",
        )
    return Finding(
        "transport", "error", f"the configuration set {opened.configuration_set} publishes "
        "bounces and complaints to no topic of [webhooks] ses_topics "
        f"(it publishes them to: {', '.join(published) or 'none'}): they would never suppress "
        "anybody",
        "give the set an enabled SNS event destination for Bounce and Complaint, to a topic "
        f"subscribed to {webhook}, and list its ARN in [webhooks] ses_topics",
    )


def _login(factory: TransportFactory, opened: Transport) -> Finding:
    try:
        opened.verify()
    except UsageError as exc:  # TransportError: the server refused what the settings say
        return Finding(
            "transport", "error", str(exc),
            "correct the setting or the secret it names, then run mailer doctor again",
        )
    except DeliveryError as exc:  # Unreachable: no answer now
        return Finding(
            "transport", "error", str(exc),
            "check the host and port (and that this network lets you reach them), or try later",
        )
    return Finding("transport", "ok", f"{factory}: the login was accepted; nothing was sent")
