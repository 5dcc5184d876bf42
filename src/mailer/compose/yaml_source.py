"""Read a YAML file into plain Python data while remembering where every value came from.

PyYAML's safe loader builds only plain data (no Python objects from tags), and its node graph
carries the line and column of every key and item.

Validation happens later (pydantic); when it fails it reports a field path such as
``("sections", 2, "items", 0, "title")``. :class:`YamlDocument` turns that path back into the
line and column in the user's file, so every error can point at the exact spot.

Issue files are written by several people, so a file is refused, with the line to blame, before
it can cost much: larger than :data:`MAX_BYTES`, more than :data:`MAX_VALUES` values once its
aliases are expanded (a few lines of nested aliases, the "billion laughs", would otherwise
take gigabytes), nested deeper than :data:`MAX_DEPTH`, or holding an alias inside the value it
names (which never ends).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from mailer.errors import InputError, Location
from mailer.textfiles import first_line_not_utf8

FieldPath = tuple[str | int, ...]

# The example issues are 6 to 12 kB and hold up to 385 values, nested 7 deep.
MAX_BYTES = 2 * 2**20
MAX_VALUES = 10_000  # keys, list items and texts, each alias counted as all the values it names
MAX_DEPTH = 50

# libyaml's parser when PyYAML was built with it (the wheels are): ~50 times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDocument:
    """Plain data from a YAML file plus a map from field paths to their positions."""

    path: Path
    data: Any
    positions: dict[FieldPath, tuple[int, int]]

    def locate(self, field_path: FieldPath) -> Location:
        """The position of ``field_path``, or of its nearest ancestor that has one."""
        probe = tuple(field_path)
        while probe:
            if probe in self.positions:
                line, column = self.positions[probe]
                return Location(self.path, line, column)
            probe = probe[:-1]
        return Location(self.path, 1, 1)


def load_yaml(path: Path) -> YamlDocument:
    """Parse ``path``; raise :class:`InputError` with the position of anything wrong in it."""
    return parse_yaml(path, _read(path))


def parse_yaml(path: Path, text: str) -> YamlDocument:
    """Parse ``text``, which is (or is about to be) the file ``path``, as :func:`load_yaml`."""
    if not text.strip():
        raise InputError(Location(path, 1), "the file is empty")
    try:
        _check_shape(path, text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise InputError(Location(path, 1), "the file holds no data (only comments?)")
            positions: dict[FieldPath, tuple[int, int]] = {}
            _record_positions(path, root, (), positions)
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(Location(path, line, column), f"YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise InputError(Location(path), f"YAML syntax error: {exc}") from None
    return YamlDocument(path=path, data=data, positions=positions)


def _read(path: Path) -> str:
    """The text of ``path``, read no further than :data:`MAX_BYTES` (and a byte to tell)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
            size = max(os.fstat(file.fileno()).st_size, len(data))
    except FileNotFoundError:
        raise InputError(Location(path), "file not found") from None
    except OSError as exc:
        raise InputError(Location(path), f"cannot read file ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise InputError(
            Location(path),
            f"the file is {size / 2**20:.1f} MB, more than the {MAX_BYTES // 2**20} MB "
            "an issue file may have",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = Location(path, first_line_not_utf8(path))
        raise InputError(where, f"not UTF-8 text ({exc.reason})") from None


def _check_shape(path: Path, text: str) -> None:
    """Refuse a document too large or too deep to build, from the parser's events alone.

    Nothing is built here, so nothing can grow: each value is counted as often as it will
    appear in the data, an alias as all the values it names, and the count stops at the first
    value over the limit. The error points at that value (for an alias bomb, at an alias).
    """
    loader = _Loader(text)
    sizes: dict[str, int | None] = {}  # anchor -> values it names; None while still open
    opened: list[tuple[str | None, int]] = []  # collections not closed yet: (anchor, count)
    count = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, AliasEvent):
                # an alias always names an anchor; the composer reports an undefined one
                size = sizes.get(cast(str, event.anchor), 1)
                if size is None:
                    raise InputError(
                        _where(path, event),
                        f"the alias *{event.anchor} is inside the value &{event.anchor} it "
                        "repeats, which would never end",
                    )
                count += size
            elif isinstance(event, ScalarEvent):
                count += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, CollectionStartEvent):
                opened.append((event.anchor, count))
                count += 1
                if event.anchor is not None:
                    sizes[event.anchor] = None
                if len(opened) > MAX_DEPTH:
                    raise InputError(
                        _where(path, event), f"values nested more than {MAX_DEPTH} levels deep"
                    )
            elif isinstance(event, CollectionEndEvent):
                anchor, before = opened.pop()
                if anchor is not None:
                    sizes[anchor] = count - before
            if count > MAX_VALUES:
                raise InputError(
                    _where(path, event),
                    f"more than {MAX_VALUES:,} values (keys, list items and texts, each alias "
                    "counted as all the values it repeats)",
                )
    finally:
        loader.dispose()


def _where(path: Path, event: Event) -> Location:
    mark = event.start_mark
    if mark is None:  # the parser marks every event; one made by hand has none
        return Location(path)
    return Location(path, mark.line + 1, mark.column + 1)


def _record_positions(
    path: Path, node: Node, here: FieldPath, positions: dict[FieldPath, tuple[int, int]]
) -> None:
    """Note where each mapping key and list item starts (1-based), depth first (at most
    :data:`MAX_DEPTH` calls deep: :func:`_check_shape` has run).

    A key given twice in one mapping is an error: YAML loaders silently keep the last value, so
    a stray second ``id:`` would change the ledger key and resend the issue to everyone.
    """
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*here, key)
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if child in positions:
                raise InputError(
                    Location(path, *position),
                    f"duplicate key '{key}' (first on line {positions[child][0]})",
                )
            positions[child] = position
            _record_positions(path, value_node, child, positions)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*here, index)
            positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _record_positions(path, item, child, positions)
