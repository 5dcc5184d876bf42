"""The email providers' event webhooks, verified the way each provider documents it.

==============  ==============================================  ==================================
provider        how a request is verified                       environment
==============  ==============================================  ==================================
``mailgun``     HMAC-SHA256 of the signed timestamp and token   ``MAILGUN_WEBHOOK_SIGNING_KEY``
``sendgrid``    ECDSA signature of the timestamp and the body   ``SENDGRID_WEBHOOK_PUBLIC_KEY``
``postmark``    HTTP basic auth (in the webhook's URL)          ``MAILER_WEBHOOK_USER``,
                                                                ``MAILER_WEBHOOK_PASSWORD``
``ses``         Amazon SNS's RSA signature (AWS's certificate)  none: ``[webhooks] ses_topics``
==============  ==============================================  ==================================

Amazon SES needs no secret: SNS signs with AWS's own key, and what makes a message ours is its
topic, listed in ``mailer.toml``; the web app makes :class:`.ses.SesWebhook` itself when the
list is not empty, so :data:`PROVIDERS` holds the webhooks made from secrets alone.

The web app makes each provider once with :func:`webhook_provider`, then for each request calls
``provider.handle(headers, body, now)`` (see :mod:`.base`). As with the transports, the factory
is the only place a provider gets its secrets, and each provider module is imported only when
it is used (SendGrid's brings in ``cryptography``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from mailer.credentials import secret
from mailer.errors import UsageError
from mailer.feedback.webhooks.base import (
    MAX_AGE_SECONDS,
    MAX_BODY_BYTES,
    Parsed,
    Unverified,
    WebhookProvider,
)

# name (as in the URL /webhooks/<name>) -> "module:class" in this package
PROVIDERS: dict[str, str] = {
    "mailgun": "mailgun:MailgunWebhook",
    "sendgrid": "sendgrid:SendGridWebhook",
    "postmark": "postmark:PostmarkWebhook",
}

# Every /webhooks/<name> there is: those made from secrets, and Amazon SES's.
NAMES = (*PROVIDERS, "ses")

__all__ = ["MAX_AGE_SECONDS", "MAX_BODY_BYTES", "NAMES", "PROVIDERS", "Parsed", "Unverified",
           "WebhookProvider", "provider_class", "webhook_provider"]


def provider_class(name: str) -> type[WebhookProvider]:
    """The class for ``name`` (one of :data:`PROVIDERS`)."""
    module, kind = PROVIDERS[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), kind)


def webhook_provider(name: str, environ: Mapping[str, str] | None = None) -> WebhookProvider:
    """The webhook of provider ``name``, with its secrets from ``environ`` (the process's).

    UsageError if there is no such provider; MissingSecret naming the variable when one of
    its secrets is not set (or, for SendGrid, is not a public key).
    """
    if name not in PROVIDERS:
        raise UsageError(f"no webhook for {name!r} (known: {', '.join(PROVIDERS)})")
    kind = provider_class(name)
    values = os.environ if environ is None else environ
    purpose = f"{kind.title}'s webhook"
    return kind(**{
        parameter: secret(variable, purpose, values)
        for parameter, variable in kind.settings.items()
    })
