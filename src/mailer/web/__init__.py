"""``mailer serve``: one small web service that answers unsubscribes, receives the ESPs'
webhooks, and lets a laptop pull the suppressions; ``create_app`` for any WSGI server."""

from __future__ import annotations

from mailer.web.app import create_app

__all__ = ["create_app"]
