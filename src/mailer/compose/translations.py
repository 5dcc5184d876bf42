"""Translations that know they are stale, and texts still to translate.

An edition's text is *stale* when the default's text in the same place changed after the
translator last changed theirs: the Turkish lead still says what the English one said before.

* In a git repository (the default file is tracked), git's history tells: a text is up to
  date when every commit that last changed one of the default text's lines is in the past of
  a commit that last changed the translation's lines (:func:`stale_texts`). A change to the
  default not committed yet is a change made now; one to the translation made now is the
  translator at work.
* Elsewhere, ``mailer translate`` keeps a fingerprint (a short hash) of each default text an
  edition was translated from, in a file beside the edition (``X.tr.translated-from.json``,
  which a translator never needs to open), and a text is stale when the default's no longer
  has that fingerprint. ``mailer translate X.yaml --lang tr --refresh`` records the default's
  texts of now, once the translation has caught up.

``mailer translate`` starts an edition with every text the translator translates copied and
marked with :data:`MARKER`; ``mailer check`` reports a text still marked as an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailer.compose.editions import IMAGE_INHERITED, INHERITED
from mailer.compose.history import NOW, Blame, History, blame, tracked
from mailer.compose.issue import dotted, strings_with_paths
from mailer.compose.yaml_source import FieldPath, YamlDocument
from mailer.compose.yaml_spans import text_spans
from mailer.console import command_line
from mailer.errors import InputError, Location, WriteFailed

MARKER = "[TRANSLATE]"
# Fields whose value is the same in every language: the edition takes them from the default
# (INHERITED, IMAGE_INHERITED, link URLs), or they hold no words to translate.
NOT_WORDS = frozenset({*INHERITED, *IMAGE_INHERITED, "url", "language", "direction",
                       "postal_address"})
FINGERPRINTS_SUFFIX = ".translated-from.json"


def is_translatable(field_path: FieldPath) -> bool:
    return not NOT_WORDS.intersection(key for key in field_path if isinstance(key, str))


def translatable_texts(data: object) -> Iterator[tuple[FieldPath, str]]:
    """Every text of issue ``data`` a translator translates, with its field path, in order."""
    for field_path, text in strings_with_paths(data, ()):
        if is_translatable(field_path):
            yield field_path, text


def is_marked(text: str) -> bool:
    """Whether ``text`` still carries the :data:`MARKER` ``mailer translate`` copied it with."""
    return text.lstrip().startswith(MARKER)


def mark(text: str) -> str:
    return f"{MARKER} {text}" if text.strip() else text


def value_at(data: object, field_path: FieldPath) -> object:
    """The value at ``field_path`` in YAML data, or None where it has none."""
    for key in field_path:
        if isinstance(key, int) and isinstance(data, list) and key < len(data):
            data = data[key]
        elif isinstance(key, str) and isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def translated(edition: YamlDocument, default: YamlDocument) -> list[FieldPath]:
    """The texts the edition's file gives (not those it takes from the default), that are
    translated (not marked) and have a text in the same place in the default."""
    return [
        field_path
        for field_path, text in translatable_texts(edition.data)
        if field_path in edition.positions and not is_marked(text)
        and isinstance(value_at(default.data, field_path), str)
    ]


@dataclass(frozen=True)
class Stale:
    """A translated text whose default changed after it: ``why`` says when, ``then`` what
    to do once the translation is up to date, if anything."""

    field_path: FieldPath
    why: str
    then: str = ""


def stale_texts(edition: YamlDocument, default: YamlDocument) -> list[Stale]:
    """The edition's translated texts whose default text changed since (see the module)."""
    fields = translated(edition, default)
    if not fields:
        return []
    default_blame = blame(default.path)
    if default_blame is None:
        return _stale_by_fingerprint(edition, default, fields)
    return _stale_by_history(edition, default, fields, default_blame)


def _stale_by_history(
    edition: YamlDocument, default: YamlDocument, fields: list[FieldPath], default_blame: Blame
) -> list[Stale]:
    edition_blame = blame(edition.path)  # None: not tracked yet, all of it written now
    history = History(default.path.parent)
    theirs, _ = text_spans(default.path.read_text(encoding="utf-8"))
    mine, _ = text_spans(edition.path.read_text(encoding="utf-8"))
    found = []
    for field_path in fields:
        if field_path not in theirs or field_path not in mine:
            continue  # a text repeated by an alias: blamed where it is written
        changed = default_blame.of(theirs[field_path].lines)
        translation = edition_blame.of(mine[field_path].lines) if edition_blame else {NOW}
        behind = [
            sha for sha in changed
            if not any(history.is_ancestor(sha, since) for since in translation)
        ]
        if not behind:
            continue
        if NOW in behind:
            why = "the default's text changed and is not committed yet"
        else:
            last = max((default_blame.commits[sha] for sha in behind), key=lambda c: c.when)
            why = f"the default changed in commit {last.short}, {last.when:%Y-%m-%d}"
        found.append(Stale(field_path, why))
    return found


def fingerprint(text: str) -> str:
    """A short hash of ``text`` with its white space collapsed (a reflowed paragraph is the
    same text)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:12]


def fingerprints_path(edition: Path) -> Path:
    """``issues/X.tr.yaml`` -> ``issues/X.tr.translated-from.json``."""
    return edition.with_name(edition.stem + FINGERPRINTS_SUFFIX)


def read_fingerprints(edition: Path) -> dict[str, str]:
    """The fingerprints kept for ``edition`` by field (``lead.body``), {} when none are."""
    path = fingerprints_path(edition)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(Location(path), f"cannot read the fingerprints ({exc})") from None
    texts = kept.get("texts") if isinstance(kept, dict) else None
    if not isinstance(texts, dict):
        raise InputError(Location(path), "not a fingerprints file of mailer translate")
    return {str(key): str(value) for key, value in texts.items()}


def write_fingerprints(edition: Path, default: Path, texts: dict[str, str]) -> Path:
    """Keep ``texts`` (field -> fingerprint of the default's text) for ``edition``."""
    path = fingerprints_path(edition)
    kept = {
        "about": f"mailer translate keeps here a fingerprint of each text of {default.name} "
        f"that {edition.name} was translated from, so that mailer check can tell a text "
        "translated from an older one. Not for editing.",
        "texts": dict(sorted(texts.items())),
    }
    try:
        path.write_text(json.dumps(kept, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror}") from None
    return path


def keeps_fingerprints(default: Path) -> bool:
    """Whether the translations of ``default`` are told stale by fingerprints (it is not
    tracked by git), rather than by git's history."""
    return not tracked(default)


def _stale_by_fingerprint(
    edition: YamlDocument, default: YamlDocument, fields: list[FieldPath]
) -> list[Stale]:
    kept = read_fingerprints(edition.path)
    name = fingerprints_path(edition.path).name
    tag = edition.path.stem.rpartition(".")[2]
    then = "; then record that with " + command_line(
        "translate", default.path, lang=tag, refresh=True
    )
    found = []
    for field_path in fields:
        recorded = kept.get(dotted(field_path))
        text = value_at(default.data, field_path)
        if recorded is not None and isinstance(text, str) and recorded != fingerprint(text):
            why = f"the default's text changed since {name} recorded it"
            found.append(Stale(field_path, why, then))
    return found
