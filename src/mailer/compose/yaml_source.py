"""Read a YAML file into plain Python data while remembering where every value came from.

PyYAML's safe loader builds only plain data (no Python objects from tags), and its node graph
carries the line and column of every key and item.

Validation happens later (pydantic); when it fails it reports a field path such as
``("sections", 2, "items", 0, "title")``. :class:`YamlDocument` turns that path back into the
line and column in the user's file, so every error can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.nodes import MappingNode, Node, SequenceNode

from mailer.errors import InputError, Location

FieldPath = tuple[str | int, ...]

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
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise InputError(Location(path, 1), "the file holds no data (only comments?)")
        positions: dict[FieldPath, tuple[int, int]] = {}
        _record_positions(path, root, (), positions)
        data = loader.construct_document(root)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(Location(path, line, column), f"YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise InputError(Location(path), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, positions=positions)


def _record_positions(
    path: Path, node: Node, here: FieldPath, positions: dict[FieldPath, tuple[int, int]]
) -> None:
    """Note where each mapping key and list item starts (1-based), depth first.

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
