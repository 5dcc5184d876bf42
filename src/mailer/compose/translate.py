"""``mailer translate``: start an edition for a translator, and trade its texts as a PO file.

* ``mailer translate X.yaml --lang fr`` writes ``X.fr.yaml`` with every text a translator
  translates copied from ``X.yaml`` and marked ``[TRANSLATE]`` (see
  :mod:`mailer.compose.translations`); what an edition takes from its default (URLs, image
  files, the date, the sender) is left out. An edition already there is never overwritten.
* ``--po FILE`` exports the edition's texts as a gettext PO file, the format Poedit, Weblate
  and Crowdin read: one entry a text, ``msgctxt`` its field (``lead.body``), ``msgid`` the
  default's text, ``msgstr`` the translation (empty while it is still marked), ``#:`` the
  default's file and line; a translation whose default changed since is ``fuzzy``.
* ``--po-import FILE`` writes the PO's translations back into the edition, changing only the
  texts that changed (so a PO imported as it was exported leaves the file byte for byte as it
  was) and keeping the file's comments, order and quoting. Empty and fuzzy entries are left
  out, as gettext's own tools do.
* ``--refresh`` (outside git) records the default's texts of now as those the edition was
  translated from, once the translation has caught up with them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polib
import yaml

from mailer import __version__
from mailer.compose.editions import (
    edition_files,
    edition_from,
    load_default,
    normalise_tag,
    split_edition_path,
)
from mailer.compose.issue import LoadedIssue, dotted
from mailer.compose.translations import (
    MARKER,
    fingerprint,
    is_marked,
    is_translatable,
    keeps_fingerprints,
    mark,
    read_fingerprints,
    stale_texts,
    translatable_texts,
    value_at,
    write_fingerprints,
)
from mailer.compose.yaml_source import FieldPath, YamlDocument, load_yaml, parse_yaml
from mailer.compose.yaml_spans import rewrite
from mailer.console import Console, command_line, count
from mailer.errors import InputError, Location, UsageError, WriteFailed

_FIELD_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def translate(
    issue: Path,
    lang: str,
    console: Console,
    *,
    settings: Path | None = None,
    po: Path | None = None,
    po_import: Path | None = None,
    refresh: bool = False,
) -> None:
    """``mailer translate ISSUE --lang LANG`` and its ``--po``, ``--po-import``, ``--refresh``."""
    if sum((po is not None, po_import is not None, refresh)) > 1:
        raise UsageError("give one of --po, --po-import and --refresh at a time")
    default = load_default(issue, settings)
    edition = _edition_path(default, lang)
    if po is not None:
        _export(default, edition, po, console)
    elif po_import is not None:
        _import(default, edition, po_import, console)
    elif refresh:
        _refresh(default, edition, console)
    else:
        _start(default, edition, console)


def _edition_path(default: LoadedIssue, lang: str) -> Path:
    """The edition file of ``lang``: the one there (``X.pt-BR.yaml`` for ``pt_br``), else the
    one to start."""
    for tag, path in edition_files(default.path).items():
        if normalise_tag(tag) == normalise_tag(lang):
            return path
    not_a_tag = UsageError(f"--lang {lang}: not a language tag (such as fr, tr or pt-BR)")
    try:  # a tag with a slash in it is not even a file name
        candidate = default.path.with_name(f"{default.path.stem}.{lang}{default.path.suffix}")
    except ValueError:
        raise not_a_tag from None
    if split_edition_path(candidate) is None:
        raise not_a_tag
    if normalise_tag(lang) == normalise_tag(default.issue.language):
        raise UsageError(f"--lang {lang}: {default.path.name} is itself the '{lang}' edition")
    return candidate


# --- starting an edition ----------------------------------------------------------------------


def _start(default: LoadedIssue, edition: Path, console: Console) -> None:
    if edition.exists():
        raise WriteFailed(
            f"{edition} already exists; nothing was changed (export its texts with "
            f"{command_line('translate', default.path, '--lang', _tag(edition), '--po', 'FILE')})"
        )
    data = _to_translate(default.source.data, ())
    text = _header(default, edition) + yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=96
    )
    try:
        with open(edition, "x", encoding="utf-8", newline="\n") as file:
            file.write(text)
    except FileExistsError:
        raise WriteFailed(f"{edition} already exists; nothing was changed") from None
    except OSError as exc:
        raise WriteFailed(f"cannot write {edition}: {exc.strerror}") from None
    texts = dict(translatable_texts(default.source.data))
    if keeps_fingerprints(default.path):
        write_fingerprints(edition, default.path, _fingerprints(texts))
    console.say(
        f"Started {edition}: {count(len(texts), 'text')} to translate, each marked {MARKER} "
        "(delete the marker once it is translated; mailer check reports every text still "
        f"marked). Preview it with: {command_line('preview', edition)}"
    )


def _to_translate(node: Any, here: FieldPath) -> Any:
    """``node`` of the default's data with only what a translator translates, each text
    marked; None for nothing to translate."""
    if isinstance(node, str):
        return mark(node) if is_translatable(here) else None
    if isinstance(node, list):  # items are matched by position: every one stays
        return [_to_translate(value, (*here, n)) or {} for n, value in enumerate(node)]
    if isinstance(node, dict):
        kept = {key: _to_translate(value, (*here, key)) for key, value in node.items()}
        return {key: value for key, value in kept.items() if value not in (None, {}, [])} or None
    return None


def _header(default: LoadedIssue, edition: Path) -> str:
    return (
        f"# The '{_tag(edition)}' edition of {default.path.name}, started by mailer translate.\n"
        f"# Each text below is {default.path.name}'s, marked {MARKER}: write it in this\n"
        "# edition's language and delete the marker. mailer check reports every text still\n"
        "# marked as an error, so that nothing half-translated is sent. Link URLs, image\n"
        f"# files, the date and the sender come from {default.path.name}.\n"
    )


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as the example issues are; texts of several lines as
    ``|`` blocks, long ones as ``>`` blocks (no quotes to keep, no line to scroll)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text.rstrip("\n") else ">" if len(text) > 60 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def _tag(edition: Path) -> str:
    split = split_edition_path(edition)
    return split[1] if split else edition.name


def _fingerprints(texts: dict[FieldPath, str]) -> dict[str, str]:
    return {dotted(field_path): fingerprint(text) for field_path, text in texts.items()}


# --- PO export and import ---------------------------------------------------------------------


def _export(default: LoadedIssue, edition: Path, po_path: Path, console: Console) -> None:
    """Every text of the default with its translation in the edition (if there is one)."""
    if po_path.exists():
        raise WriteFailed(f"{po_path} already exists; nothing was changed (choose another name)")
    document = load_yaml(edition) if edition.exists() else None
    stale = {s.field_path for s in stale_texts(document, default.source)} if document else set()
    where = _shown(default)
    po = polib.POFile(wrapwidth=78)
    po.metadata = {
        "Project-Id-Version": default.issue.id,
        "Language": _tag(edition),
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "X-Generator": f"mailer {__version__}",
    }
    for field_path, text in translatable_texts(default.source.data):
        if not text.strip():
            continue
        mine = value_at(document.data, field_path) if document else None
        translation = mine if isinstance(mine, str) and not is_marked(mine) else ""
        line = default.source.positions.get(field_path, (1, 1))[0]
        po.append(polib.POEntry(
            msgctxt=dotted(field_path), msgid=text, msgstr=translation,
            occurrences=[(where, str(line))],
            flags=["fuzzy"] if field_path in stale else [],
        ))
    try:
        po.save(str(po_path))
    except OSError as exc:
        raise WriteFailed(f"cannot write {po_path}: {exc.strerror}") from None
    done = sum(1 for entry in po if entry.msgstr)
    console.say(
        f"Wrote {po_path}: {count(len(po), 'text')}, {done} translated"
        + (f", {len(stale)} of them from an older text (fuzzy)" if stale else "")
        + ". Once translated: "
        + command_line("translate", default.path, lang=_tag(edition), po_import=po_path)
    )


def _shown(default: LoadedIssue) -> str:
    """The default's file as the PO's references name it: from the project folder, with /."""
    try:
        return default.path.resolve().relative_to(default.settings.base_dir.resolve()).as_posix()
    except ValueError:
        return default.path.name


def _import(default: LoadedIssue, edition: Path, po_path: Path, console: Console) -> None:
    entries = list(_entries(po_path, dict(translatable_texts(default.source.data))))
    if not edition.exists():
        _start(default, edition, console)
    original = edition.read_bytes().decode("utf-8")
    document = load_yaml(edition)
    changes: dict[FieldPath, str] = {}
    older: list[FieldPath] = []
    for field_path, entry, theirs in entries:
        if not entry.msgstr or "fuzzy" in entry.flags:
            continue
        if entry.msgid != theirs:
            older.append(field_path)
        if value_at(document.data, field_path) != entry.msgstr:
            changes[field_path] = entry.msgstr
    if changes:
        _write(default, edition, original, changes, po_path, entries)
    if changes and keeps_fingerprints(default.path):
        kept = read_fingerprints(edition)
        kept.update({
            dotted(field_path): fingerprint(entry.msgid)
            for field_path, entry, _ in entries if field_path in changes
        })
        write_fingerprints(edition, default.path, kept)
    for field_path in older:
        console.warn(
            f"{po_path}: {dotted(field_path)}: translated from an older text of "
            f"{default.path.name} (export the PO again to see the text of now)"
        )
    left = sum(1 for _, entry, _ in entries if not entry.msgstr or "fuzzy" in entry.flags)
    console.say(
        f"Imported {po_path} into {edition}: {count(len(changes), 'text')} changed, "
        f"{len(entries) - len(changes) - left} as they were, {left} untranslated or fuzzy left "
        "out."
    )


def _entries(
    po_path: Path, texts: dict[FieldPath, str]
) -> Iterator[tuple[FieldPath, polib.POEntry, str]]:
    """Each entry of the PO with the field it names and the default's text there."""
    if not po_path.is_file():  # polib would read the path itself as the PO's text
        raise InputError(Location(po_path), "cannot read the PO file (no such file)")
    try:
        po = polib.pofile(str(po_path))
    except OSError as exc:
        raise InputError(
            Location(po_path), f"cannot read the PO file ({exc.strerror or exc})"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(Location(po_path), f"not a PO file ({exc})") from None
    for entry in po:
        if entry.obsolete:
            continue
        where = Location(po_path, entry.linenum)
        if not entry.msgctxt:
            raise InputError(
                where, f"the entry for '{entry.msgid[:40]}' has no msgctxt, which names the "
                "field of its text (such as lead.body): export the PO with mailer translate"
            )
        field_path = _parse_field(entry.msgctxt)
        if field_path is None or field_path not in texts:
            raise InputError(
                where, "the issue has no text to translate there (export the PO again, "
                "or check the msgctxt: it is the field, such as lead.body)", entry.msgctxt,
            )
        yield field_path, entry, texts[field_path]


def _parse_field(name: str) -> FieldPath | None:
    """``sections[1].items[0].title`` -> ``("sections", 1, "items", 0, "title")``."""
    parts: list[str | int] = []
    at = 0
    for match in _FIELD_PART.finditer(name):
        if match.start() != at:
            return None
        at = match.end()
        parts.append(int(match[1]) if match[1] is not None else match[2])
    return tuple(parts) if parts and at == len(name) and dotted(tuple(parts)) == name else None


def _write(
    default: LoadedIssue,
    edition: Path,
    original: str,
    changes: dict[FieldPath, str],
    po_path: Path,
    entries: list[tuple[FieldPath, polib.POEntry, str]],
) -> None:
    """Write ``changes`` into the edition, once the result is known to load as one."""
    lines = {field_path: entry.linenum for field_path, entry, _ in entries}
    try:
        text = rewrite(original, changes)
    except KeyError as exc:
        field_path = exc.args[0]
        raise InputError(
            Location(po_path, lines[field_path]),
            f"{edition.name} has no {dotted(field_path[:-1])} to put this translation in: "
            "add it there first (items and links are matched by position)", dotted(field_path),
        ) from None
    document = parse_yaml(edition, text)
    for field_path, new in changes.items():
        if value_at(document.data, field_path) != new:  # never write what would read otherwise
            raise InputError(
                Location(edition), "mailer could not write this translation back as it is; "
                "copy it into the file by hand", dotted(field_path),
            )
    edition_from(default, YamlDocument(edition, document.data, document.positions),
                 default.settings)
    temporary = edition.with_name(f".{edition.name}.importing")
    try:
        temporary.write_bytes(text.encode("utf-8"))
        os.replace(temporary, edition)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise WriteFailed(f"cannot write {edition}: {exc.strerror}") from None


# --- fingerprints ------------------------------------------------------------------------------


def _refresh(default: LoadedIssue, edition: Path, console: Console) -> None:
    if not edition.exists():
        raise UsageError(
            f"{default.path.name} has no '{_tag(edition)}' edition; start it with "
            f"{command_line('translate', default.path, '--lang', _tag(edition))}"
        )
    if not keeps_fingerprints(default.path):
        console.say(
            f"{default.path} is tracked by git: mailer check reads when each text changed from "
            "its history, and keeps no fingerprints to refresh."
        )
        return
    document = load_yaml(edition)
    texts = {
        field_path: text for field_path, text in translatable_texts(default.source.data)
        if field_path in document.positions
    }
    path = write_fingerprints(edition, default.path, _fingerprints(texts))
    console.say(
        f"Recorded in {path} the texts of {default.path.name} of now as those {edition.name} "
        "is translated from."
    )

