"""``mailer serve``: the web app under waitress, a production WSGI server (never Flask's
development server), on the host and port given; behind an HTTPS reverse proxy in real use.

Waitress reads a request's whole body, into a temporary file past half a megabyte, before the
app sees it: so the cap on bodies is set in waitress too, which answers 413 to a longer
``Content-Length`` before reading a byte of the body, and stops reading a chunked one at the
cap. Each refused request is one line on standard error (:mod:`mailer.web.refusals`), also
those waitress refuses by itself, with the client's address as the app reads it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from flask import Flask
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from mailer.console import Console
from mailer.credentials import Redactor
from mailer.errors import UsageError
from mailer.feedback.webhooks import MAX_BODY_BYTES
from mailer.settings import settings_for
from mailer.web.app import create_app, unsubscribe_path
from mailer.web.context import EXTENSION, Context
from mailer.web.refusals import TOO_LARGE, log, log_refusal
from mailer.web.signup import subscribe_path

THREADS = 8  # waitress's worker threads: requests are short, the store takes one writer
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(
    console: Console, *, settings: Path | None = None, host: str = "127.0.0.1", port: int = 8080,
    archive: Path | None = None,
) -> None:
    """Serve until interrupted; MissingSecret before anything listens if a secret is missing.
    ``archive``: the folder ``mailer archive`` built, served at the root too."""
    if archive is not None and not archive.is_dir():
        raise UsageError(f"--archive {archive}: no such folder (mailer archive builds it)")
    _log_to_stderr(console.redact)
    loaded = settings_for(Path.cwd(), settings)
    app = create_app(loaded, archive=archive)
    listeners: dict[int, Any] = {}  # waitress's socket map: its listening sockets, then more
    server = create_server(
        app, map=listeners, host=host, port=port, threads=THREADS, ident="mailer",
        # waitress refuses a Content-Length at or over this; the app one over MAX_BODY_BYTES
        max_request_body_size=MAX_BODY_BYTES + 1,
        # X-Forwarded-* reach the app, which believes them from [serve] trusted_proxies only
        # (waitress would drop them all, or trust a single address)
        clear_untrusted_proxy_headers=False,
    )
    for listener in listeners.values():
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = RefusalLoggingChannel
    shown = f"[{host}]" if ":" in host else host
    template = loaded.settings.list.unsubscribe_url
    path = unsubscribe_path(template) if template else "none"
    site = f"; the site in {archive} at /" if archive else ""
    if loaded.settings.list.subscribe_url:
        site = f"; sign-up: {subscribe_path(loaded.settings.list.subscribe_url)}{site}"
    console.say(
        f"Serving {loaded.settings.list.name or loaded.settings.brand.organisation} on "
        f"http://{shown}:{port}/ (unsubscribe: {path}; webhooks: /webhooks/mailgun, "
        f"/webhooks/sendgrid, /webhooks/postmark, /webhooks/ses{site}; Ctrl-C to stop)"
    )
    server.run()


class _RedactingFormatter(logging.Formatter):
    """A last net under the log lines' own care: no secret of the environment gets out."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(LOG_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def _log_to_stderr(redact: Redactor) -> None:
    """Our lines (refusals, webhooks that are off) and waitress's warnings, one a line on
    standard error, unless the program embedding this has set up logging already."""
    handler = logging.StreamHandler()
    handler.setFormatter(_RedactingFormatter(redact))
    logging.basicConfig(handlers=[handler])
    log.setLevel(logging.INFO)
    queue = logging.getLogger("waitress.queue")
    if not any(isinstance(f, OncePerMinute) for f in queue.filters):
        queue.addFilter(OncePerMinute())


class OncePerMinute(logging.Filter):
    """At most one record a minute. Waitress warns "Task queue depth is N" for each request
    that waits for a free thread: under a burst of sign-ups, a line for nearly every request
    (thousands a second, each formatted, redacted and written). One a minute still says the
    server is busy."""

    def __init__(self) -> None:
        super().__init__()
        self._next = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + 60
        return True


class RefusalLoggingTask(ErrorTask):
    """The error answer waitress makes itself (a body over the cap, a request it cannot
    read), logged as the app logs its own refusals."""

    def execute(self) -> None:
        super().execute()
        request = self.request  # waitress's parser, with the error it found
        error = getattr(request, "error", None)
        status: int = getattr(error, "code", 500)
        if 400 <= status < 500:
            reason = TOO_LARGE if status == 413 else str(getattr(error, "reason", "refused"))
            log_refusal(getattr(request, "command", "") or "-", getattr(request, "path", "") or "-",
                        status, reason, self._client())

    def _client(self) -> str:
        """The client's address, read as the app reads it (only a trusted proxy forwards)."""
        address = self.channel.addr
        peer = str(address[0] if isinstance(address, tuple) else address or "-")
        app = self.channel.server.application  # the app serve() made: waitress wraps nothing
        if not isinstance(app, Flask):
            return peer
        context: Context = app.extensions[EXTENSION]
        headers: dict[str, str] = getattr(self.request, "headers", {})  # names as waitress has them
        return context.proxies.client(peer, headers.get("X_FORWARDED_FOR"))


class RefusalLoggingChannel(HTTPChannel):
    """Waitress's connection, answering its errors with :class:`RefusalLoggingTask`."""

    error_task_class = RefusalLoggingTask
