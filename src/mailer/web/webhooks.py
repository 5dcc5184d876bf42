"""``POST /webhooks/mailgun``, ``/webhooks/sendgrid``, ``/webhooks/postmark``, ``/webhooks/ses``
(and ``HEAD``).

Each request is verified the provider's documented way before anything is read from it
(:mod:`mailer.feedback.webhooks`); a refused one is answered with its 4xx and writes nothing.
A verified request's events are recorded in one transaction, each once (the providers retry,
and send the same event twice): permanent bounces, complaints and unsubscribes suppress, soft
bounces are counted. A provider whose secrets are not set answers 404: no event is ever
accepted unverified. Amazon SES's (SNS notifications, signed by AWS) is on when ``[webhooks]
ses_topics`` lists a topic, and takes the messages of those topics only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import cast

from flask import Blueprint, Response, request

from mailer.errors import MissingSecret
from mailer.feedback.webhooks import (
    NAMES,
    PROVIDERS,
    Unverified,
    WebhookProvider,
    webhook_provider,
)
from mailer.settings import Settings
from mailer.web.context import Context
from mailer.web.refusals import refused

log = logging.getLogger("mailer.serve")
blueprint = Blueprint("webhooks", __name__)


def enabled(environ: Mapping[str, str], settings: Settings) -> dict[str, WebhookProvider]:
    """The webhooks whose secrets ``environ`` has, and Amazon SES's when ``settings`` list its
    topics, by name; each other one is logged as off."""
    providers: dict[str, WebhookProvider] = {}
    for name in PROVIDERS:
        try:
            providers[name] = webhook_provider(name, environ)
        except MissingSecret as exc:
            log.info("webhook /webhooks/%s is off: %s", name, exc)
    topics = settings.webhooks.ses_topics
    if topics:
        from mailer.feedback.webhooks.ses import SesWebhook

        providers["ses"] = SesWebhook(topics)
    else:
        log.info("webhook /webhooks/ses is off: [webhooks] ses_topics lists no SNS topic")
    return providers


@blueprint.route("/webhooks/<name>", methods=["POST", "HEAD"])
def webhook(name: str) -> Response:
    context = Context.current()
    provider = context.webhooks.get(name)
    if provider is None:
        reason = "not enabled on this server" if name in NAMES else "no such webhook"
        return _refused(reason, 404)
    if request.method == "HEAD":  # providers probe the URL when it is configured
        return Response(status=200)
    headers = cast(Mapping[str, str], request.headers)  # read with get() and items() only
    try:
        parsed = provider.handle(headers, request.get_data(cache=False), time.time())
    except Unverified as refusal:
        response = _refused(refusal.reason, refusal.status)
        response.headers.update(refusal.headers)
        return response
    recorded = context.store().record(parsed.events, replay_key=parsed.replay_key)
    if recorded.replayed:
        return _refused("this request was already received", 403)
    return _json({
        "recorded": recorded.new, "duplicates": recorded.duplicates,
        "suppressed": recorded.suppressed, "ignored": parsed.ignored,
    }, 200)


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _refused(reason: str, status: int) -> Response:
    """The answer to a refused request: its reason, in the body and in the log."""
    return refused(_json({"error": reason}, status), reason)
