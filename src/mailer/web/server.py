"""``mailer serve``: the web app under waitress, a production WSGI server (never Flask's
development server), on the host and port given; behind an HTTPS reverse proxy in real use.

Waitress reads a request's whole body, into a temporary file past half a megabyte, before the
app sees it: so the cap on bodies is set in waitress too, which answers 413 to a longer
``Content-Length`` before reading a byte of the body, and stops reading a chunked one at the
cap.
"""

from __future__ import annotations

from pathlib import Path

from waitress.server import create_server  # type: ignore[import-untyped]

from mailer.console import Console
from mailer.errors import UsageError
from mailer.feedback.webhooks import MAX_BODY_BYTES
from mailer.settings import settings_for
from mailer.web.app import create_app, unsubscribe_path

THREADS = 8  # waitress's worker threads: requests are short, the store takes one writer


def serve(
    console: Console, *, settings: Path | None = None, host: str = "127.0.0.1", port: int = 8080,
    archive: Path | None = None,
) -> None:
    """Serve until interrupted; MissingSecret before anything listens if a secret is missing.
    ``archive``: the folder ``mailer archive`` built, served at the root too."""
    if archive is not None and not archive.is_dir():
        raise UsageError(f"--archive {archive}: no such folder (mailer archive builds it)")
    loaded = settings_for(Path.cwd(), settings)
    app = create_app(loaded, archive=archive)
    server = create_server(
        app, host=host, port=port, threads=THREADS, ident="mailer",
        # waitress refuses a Content-Length at or over this; the app one over MAX_BODY_BYTES
        max_request_body_size=MAX_BODY_BYTES + 1,
    )
    shown = f"[{host}]" if ":" in host else host
    path = unsubscribe_path(loaded.settings.list.unsubscribe_url)
    site = f"; the site in {archive} at /" if archive else ""
    console.say(
        f"Serving {loaded.settings.list.name or loaded.settings.brand.organisation} on "
        f"http://{shown}:{port}/ (unsubscribe: {path}; webhooks: /webhooks/mailgun, "
        f"/webhooks/sendgrid, /webhooks/postmark{site}; Ctrl-C to stop)"
    )
    server.run()
