"""Read a YAML file into plain Python data while remembering where every value came from.

Validation happens later (pydantic); when it fails it reports a field path such as
``("sections", 2, "items", 0, "title")``. :class:`YamlDocument` turns that path back into the
line and column in the user's file, so every error can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mailer.errors import InputError, Location

FieldPath = tuple[str | int, ...]


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
    """Parse ``path``; raise :class:`InputError` with the position of any syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Location(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(Location(path), f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(Location(path), f"cannot read file ({exc.strerror})") from None
    if not text.strip():
        raise InputError(Location(path, 1), "the file is empty")
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(Location(path, line, column), f"YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise InputError(Location(path), f"YAML syntax error: {exc}") from None
    if raw is None:
        raise InputError(Location(path, 1), "the file holds no data (only comments?)")
    positions: dict[FieldPath, tuple[int, int]] = {}
    data = _to_plain(raw, (), positions)
    return YamlDocument(path=path, data=data, positions=positions)


def _to_plain(node: Any, here: FieldPath, positions: dict[FieldPath, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        result = {}
        for key in node:
            child = (*here, str(key))
            line, column = node.lc.key(key)
            positions[child] = (line + 1, column + 1)
            result[str(key)] = _to_plain(node[key], child, positions)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*here, index)
            line, column = node.lc.item(index)
            positions[child] = (line + 1, column + 1)
            items.append(_to_plain(value, child, positions))
        return items
    if isinstance(node, str):
        return str(node)
    return node
