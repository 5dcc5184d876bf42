"""What the routes of ``mailer serve`` share, made once per app by :func:`create_app
<mailer.web.app.create_app>` and kept in ``app.extensions["mailer"]``: the route modules read it
through :meth:`Context.current` (Flask's ``current_app``), never from the app module, which
imports them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from flask import current_app

from mailer.audience.project_store import store_for
from mailer.audience.store import SuppressionStore
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.feedback.webhooks import WebhookProvider
from mailer.settings import LoadedSettings
from mailer.web.pages import Pages
from mailer.web.proxies import TrustedProxies

EXTENSION = "mailer"  # the key of app.extensions


@dataclass
class Context:
    """The settings, the unsubscribe links' checker, the pages, the webhooks whose secrets are
    set, the proxies believed about the client, and the app's connection to the suppression
    store."""

    settings: LoadedSettings
    links: UnsubscribeLinks
    pages: Pages
    environ: Mapping[str, str]
    webhooks: Mapping[str, WebhookProvider]  # by name; a provider without its secrets is absent
    proxies: TrustedProxies
    archive: Path | None = None  # the site's folder, resolved
    _store: SuppressionStore | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def current() -> Context:
        """The Context of the app handling this request."""
        return cast(Context, current_app.extensions[EXTENSION])

    def store(self) -> SuppressionStore:
        """The app's one connection to the store, shared by the server's threads (opened on
        first use). One connection, not one a thread: in WAL mode SQLite drops a
        connection's page cache whenever another connection has written, so with a
        connection a thread each, every sign-up began by reading its tables' pages again."""
        if self._store is None:
            with self._opening:
                if self._store is None:
                    self._store = store_for(self.settings)
        return self._store
