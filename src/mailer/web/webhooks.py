"""``POST /webhooks/mailgun``, ``/webhooks/sendgrid``, ``/webhooks/postmark`` (and ``HEAD``).

Each request is verified the provider's documented way before anything is read from it
(:mod:`mailer.feedback.webhooks`); a refused one is answered with its 4xx and writes nothing.
A verified request's events are recorded in one transaction, each once (the providers retry,
and send the same event twice): permanent bounces, complaints and unsubscribes suppress, soft
bounces are counted. A provider whose secrets are not set answers 404: no event is ever
accepted unverified.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, request

from mailer.errors import MissingSecret
from mailer.feedback.webhooks import PROVIDERS, Unverified, WebhookProvider, webhook_provider
from mailer.web.app import Context

log = logging.getLogger("mailer.serve")


def register(app: Flask, context: Context) -> None:
    providers: dict[str, WebhookProvider] = {}
    for name in PROVIDERS:
        try:
            providers[name] = webhook_provider(name, context.environ)
        except MissingSecret as exc:
            log.info("webhook /webhooks/%s is off: %s", name, exc)

    @app.route("/webhooks/<name>", methods=["POST", "HEAD"])
    def webhook(name: str) -> Response:
        provider = providers.get(name)
        if provider is None:
            reason = "not enabled on this server" if name in PROVIDERS else "no such webhook"
            return _json({"error": reason}, 404)
        if request.method == "HEAD":  # providers probe the URL when it is configured
            return Response(status=200)
        try:
            headers = dict(request.headers.items())  # Werkzeug's Headers is not a Mapping
            parsed = provider.handle(headers, request.get_data(cache=False), time.time())
        except Unverified as refused:
            response = _json({"error": refused.reason}, refused.status)
            response.headers.update(refused.headers)
            return response
        recorded = context.store().record(parsed.events, replay_key=parsed.replay_key)
        if recorded.replayed:
            return _json({"error": "this request was already received"}, 403)
        return _json({
            "recorded": recorded.new, "duplicates": recorded.duplicates,
            "suppressed": recorded.suppressed, "ignored": parsed.ignored,
        }, 200)


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")
