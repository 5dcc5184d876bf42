"""The Flask application behind ``mailer serve``: settings, secrets, the store, error pages.

Everything a request may touch is made once, when the app is made, into its
:class:`~mailer.web.context.Context`: the settings, the signing secret (required: without it
no unsubscribe link can be checked, and a development fallback would be a public secret), the
webhook verifiers that have their secrets set, and the path of the suppression store, which
each server thread opens once. Each area's routes are a blueprint of their own module,
registered here. Errors are short pages or JSON, never a traceback: a failed check is a 4xx
and writes nothing; anything else is a 500, which an ESP takes as "try again later", so an
event is never lost to a bug of ours. The client's address and scheme come from
``X-Forwarded-*`` only when a proxy of ``[serve] trusted_proxies`` sent them
(:mod:`mailer.web.proxies`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mailer.audience.unsubscribe import MIN_SECRET_LENGTH, SECRET_VARIABLE, UnsubscribeLinks
from mailer.credentials import secret
from mailer.errors import MissingSecret
from mailer.feedback.webhooks import MAX_BODY_BYTES
from mailer.settings import LoadedSettings, settings_for
from mailer.web import archive as site
from mailer.web import signup, sync, unsubscribe, webhooks
from mailer.web.context import EXTENSION, Context
from mailer.web.pages import Pages
from mailer.web.proxies import TrustedProxies
from mailer.web.refusals import TOO_LARGE, log_refused, refused

log = logging.getLogger("mailer.serve")


def create_app(
    settings: LoadedSettings | None = None, *, environ: Mapping[str, str] | None = None,
    archive: Path | None = None,
) -> Flask:
    """The WSGI app. Without arguments (``gunicorn 'mailer.web:create_app()'``) it reads the
    ``mailer.toml`` named by ``MAILER_SETTINGS``, or the nearest in the current folder or
    above, and its secrets from the process's environment."""
    environ = os.environ if environ is None else environ
    if settings is None:
        named = environ.get("MAILER_SETTINGS")
        settings = settings_for(Path.cwd(), Path(named) if named else None)
    signing = secret(SECRET_VARIABLE, "mailer serve (it checks every unsubscribe link)", environ)
    if len(signing) < MIN_SECRET_LENGTH:
        raise MissingSecret(
            f"{SECRET_VARIABLE} is too short to keep unsubscribe links from being forged: use "
            f"the same long random value the sends use ({MIN_SECRET_LENGTH} characters or more)"
        )
    listed = settings.settings.list
    context = Context(
        settings=settings,
        links=UnsubscribeLinks(signing, listed.id, listed.unsubscribe_url,
                               listed.unsubscribe_mailto),
        pages=Pages.for_settings(settings),
        environ=environ,
        webhooks=webhooks.enabled(environ, settings.settings),
        proxies=TrustedProxies(settings.settings.serve.trusted_proxies),
        archive=archive.resolve() if archive is not None else None,
    )
    app = Flask("mailer.web")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION] = context
    if listed.unsubscribe_url:  # else the ESP or the mailbox answers unsubscribes
        app.register_blueprint(unsubscribe.blueprint,
                               url_prefix=unsubscribe_path(listed.unsubscribe_url))
    signup.install(app, settings, signing, context.pages)  # with [list] subscribe_url
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(sync.blueprint)
    if context.archive is not None:
        app.register_blueprint(site.blueprint)
    _errors(app, context)
    app.after_request(log_refused)
    app.wsgi_app = context.proxies.wrap(app.wsgi_app)  # type: ignore[method-assign,assignment]
    return app


def unsubscribe_path(template: str) -> str:
    """The path of ``[list] unsubscribe_url`` (``/newsletter/unsubscribe`` for the examples)."""
    return urlsplit(template.format(token="t", email="e", issue="i", lang="en")).path or "/"


def _errors(app: Flask, context: Context) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if request.path.startswith("/webhooks/") or request.path == "/suppressions":
            response = Response(f'{{"error": "{error.name}"}}', status,
                                mimetype="application/json")
        else:
            response = context.pages.message(error.name, status)
        return refused(response, TOO_LARGE if status == 413 else error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if request.path.startswith("/webhooks/"):
            return Response('{"error": "try again later"}', 500, mimetype="application/json")
        return context.pages.failed()
