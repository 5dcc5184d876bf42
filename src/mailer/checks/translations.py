"""Translations: a text still marked to translate, and a text translated from an older one.

``mailer translate`` starts an edition with the default's texts copied and marked
``[TRANSLATE]``: a text still marked is an error (:func:`check`, which runs before every send
too), so half a translation never reaches readers. A text translated before the default's text
in the same place last changed is a warning at its line (:func:`stale`): how the project tells
is in :mod:`mailer.compose.translations` (git's history, or the fingerprints kept outside git).
"""

from __future__ import annotations

from mailer.checks.base import CheckOptions, Finding, finding_maker
from mailer.compose.issue import LoadedIssue, dotted
from mailer.compose.translations import MARKER, is_marked, stale_texts, translatable_texts
from mailer.delivery.prepare import Prepared

CHECK = "translations"
_finding = finding_maker(CHECK)


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    """An error for each text of the issue's own file still marked to translate."""
    return [
        _finding(
            "error", f"{dotted(field_path)}: not translated yet (still marked {MARKER})",
            loaded.source.locate(field_path),
            f"write it in this edition's language and delete {MARKER}",
        )
        for field_path, text in translatable_texts(loaded.source.data)
        if field_path in loaded.source.positions and is_marked(text)
    ]


def stale(edition: LoadedIssue, default: LoadedIssue) -> list[Finding]:
    """A warning for each text of ``edition`` translated from an older text of ``default``."""
    return [
        _finding(
            "warning", f"{dotted(found.field_path)}: translated from an older text ({found.why})",
            edition.source.locate(found.field_path),
            f"compare it with {default.path.name}'s text and bring the translation up to date"
            + found.then,
        )
        for found in stale_texts(edition.source, default.source)
    ]
