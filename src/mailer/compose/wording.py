"""The words an issue shows that its writer did not write, in the reader's language.

Two places hold them: the theme's ``labels.toml`` ("Photo", "Unsubscribe": a table per
language) and mailer.toml's footer (``[footer]``, in the list's language, with a
``[footer.<tag>]`` table per other language). Both are looked up by the issue's whole language
tag, then its primary language (:func:`mailer.fields.language_keys`); what neither has is
shown in the fallback language, which :func:`untranslated` lists for ``mailer check`` to warn
about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailer.compose.issue import LoadedIssue
from mailer.compose.theme import HTML_TEMPLATE, LABELS_FILE, TEXT_TEMPLATE, Theme, theme_for
from mailer.errors import InputError, Location
from mailer.fields import language_keys

LABELS_FALLBACK = "en"  # the language of the words a labels.toml table lacks
NEEDED_LABELS = frozenset({"photo", "unsubscribe", "follow"})
# The footer's sentences. The postal address is not one: it is written as the post office
# reads it, whatever the reader's language.
FOOTER_SENTENCES = ("reason",)

_LABEL_USE = re.compile(r"\blabels\.([a-z_]+)")


def label_tables(theme: Theme) -> dict[str, dict[str, str]]:
    """``labels.toml``'s tables by language key (lower case, as :func:`language_keys` gives)."""
    return {
        language_keys(tag)[0]: table
        for tag, table in theme.read_toml(LABELS_FILE).items() if isinstance(table, dict)
    }


def labels_for(theme: Theme, language: str, organisation: str) -> dict[str, str]:
    """The templates' own words in ``language``: its tag's table, then its primary language's,
    over the fallback language's.

    A word the project's own ``labels.toml`` does not have at all (one a later mailer added,
    such as ``view_in_browser``) is the shipped theme's: an older copy is never short of one.
    """
    chosen: dict[str, str] = {}
    for folder in reversed(theme.folders):  # the shipped theme, then the project's over it
        layer = Theme((folder,))
        if layer.find(LABELS_FILE) is None:
            continue
        tables = label_tables(layer)
        chosen.update(tables.get(LABELS_FALLBACK, {}))
        for key in reversed(language_keys(language)):
            chosen.update(tables.get(key, {}))
    missing = NEEDED_LABELS - chosen.keys()
    if missing:
        raise InputError(
            Location(theme.path(LABELS_FILE)), f"no {', '.join(sorted(missing))} for "
            f"'{language_keys(language)[-1]}' or '{LABELS_FALLBACK}'"
        )
    return {key: text.format(organisation=organisation) for key, text in chosen.items()}


def language_name(theme: Theme, language: str) -> str:
    """The language's name in itself (``Türkçe``: ``language_name`` in its table of the
    theme's labels), or its tag when no table names it."""
    for folder in theme.folders:  # the project's copy first
        layer = Theme((folder,))
        if layer.find(LABELS_FILE) is None:
            continue
        tables = label_tables(layer)
        for key in language_keys(language):
            name = tables.get(key, {}).get("language_name")
            if name:
                return str(name)
    return language


@dataclass(frozen=True)
class Untranslated:
    """A word or sentence an issue shows in another language than its own."""

    source: Literal["labels", "footer"]
    key: str  # the label ("photo") or the footer field ("reason")
    shown_in: str  # the language it is shown in
    text: str  # what readers see


def untranslated(loaded: LoadedIssue) -> list[Untranslated]:
    """What readers of ``loaded`` would see in another language than the issue's: the labels
    its theme's templates use and the footer sentences that fall back (to ``en``, and to
    ``[footer]``, which speaks the list's language)."""
    language = loaded.issue.language
    primary = language_keys(language)[-1]
    found = []
    theme = theme_for(loaded.settings.base_dir)
    if primary != LABELS_FALLBACK:
        tables = label_tables(theme)
        own = set().union(*(tables.get(key, {}) for key in language_keys(language)))
        fallback = tables.get(LABELS_FALLBACK, {})
        for key in sorted(used_labels(theme) - own):
            if key in fallback:
                found.append(Untranslated("labels", key, LABELS_FALLBACK, fallback[key]))
    settings = loaded.settings.settings
    footer_language = settings.list.language
    if primary != language_keys(footer_language)[-1]:
        override = loaded.issue.footer
        for field in FOOTER_SENTENCES:
            if override is not None and getattr(override, field) is not None:
                continue
            if settings.footer.table_for(language, field) is None:
                found.append(Untranslated(
                    "footer", field, footer_language, getattr(settings.footer, field)
                ))
    return found


def used_labels(theme: Theme) -> set[str]:
    """The labels the theme's templates show (``labels.photo`` and the like)."""
    used: set[str] = set()
    for name in (HTML_TEMPLATE, TEXT_TEMPLATE):
        used |= set(_LABEL_USE.findall(theme.path(name).read_text(encoding="utf-8")))
    return used
