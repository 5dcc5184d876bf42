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
    set, the proxies believed about the client, and each server thread's connection to the
    suppression store."""

    settings: LoadedSettings
    links: UnsubscribeLinks
    pages: Pages
    environ: Mapping[str, str]
    webhooks: Mapping[str, WebhookProvider]  # by name; a provider without its secrets is absent
    proxies: TrustedProxies
    archive: Path | None = None  # the site's folder, resolved
    _local: threading.local = field(default_factory=threading.local)

    @staticmethod
    def current() -> Context:
        """The Context of the app handling this request."""
        return cast(Context, current_app.extensions[EXTENSION])

    def store(self) -> SuppressionStore:
        """This thread's connection to the suppression store (opened on first use)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = store_for(self.settings)
        return store
