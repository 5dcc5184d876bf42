"""Where an issue's page lives on the newsletter's site (``[archive] base_url``).

The email links to it ("View in browser"), ``mailer archive`` writes it there and ``mailer
check`` looks for it: this one function decides the address for all three. The issue's
default edition is at ``<id>/``, each other edition at ``<id>/<lang>/``.
"""

from __future__ import annotations

from mailer.compose.editions import normalise_tag, split_edition_path
from mailer.compose.issue import LoadedIssue


def page_path(issue_id: str, edition: str | None = None) -> str:
    """The folder of a page, relative to the site's root: ``<id>/`` or ``<id>/<lang>/``."""
    return f"{issue_id}/" if edition is None else f"{issue_id}/{edition}/"


def edition_of(loaded: LoadedIssue) -> str | None:
    """The language of ``loaded`` (in lower case, as in its address) when it is another
    edition than its issue's default one."""
    if split_edition_path(loaded.path) is None:
        return None
    return normalise_tag(loaded.issue.language)


def view_url(loaded: LoadedIssue) -> str | None:
    """The full address of the page of ``loaded``, or None while the site has no address."""
    base = loaded.settings.settings.archive.base_url
    return base + page_path(loaded.issue.id, edition_of(loaded)) if base else None
