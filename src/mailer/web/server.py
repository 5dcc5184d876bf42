"""``mailer serve``: the web app under waitress, a production WSGI server (never Flask's
development server), on the host and port given; behind an HTTPS reverse proxy in real use."""

from __future__ import annotations

from pathlib import Path

from mailer.console import Console
from mailer.settings import settings_for
from mailer.web.app import create_app, unsubscribe_path

THREADS = 8  # waitress's worker threads: requests are short, the store takes one writer


def serve(
    console: Console, *, settings: Path | None = None, host: str = "127.0.0.1", port: int = 8080
) -> None:
    """Serve until interrupted; MissingSecret before anything listens if a secret is missing."""
    from waitress import serve as waitress_serve

    loaded = settings_for(Path.cwd(), settings)
    app = create_app(loaded)
    shown = f"[{host}]" if ":" in host else host
    path = unsubscribe_path(loaded.settings.list.unsubscribe_url)
    console.say(
        f"Serving {loaded.settings.list.name or loaded.settings.brand.organisation} on "
        f"http://{shown}:{port}/ (unsubscribe: {path}; webhooks: /webhooks/mailgun, "
        "/webhooks/sendgrid, /webhooks/postmark; Ctrl-C to stop)"
    )
    waitress_serve(app, host=host, port=port, threads=THREADS, ident="mailer")
