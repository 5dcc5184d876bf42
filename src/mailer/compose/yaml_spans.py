"""Where each text of a YAML file is written, character by character, to blame or rewrite it.

:mod:`mailer.compose.yaml_source` keeps where each field starts, which is all an error needs.
Telling whether a text changed (``git blame`` of its lines) and writing a translation back into
the file without touching anything else (its comments, its order, its quoting) need where the
text ends too: :func:`text_spans` gives both, for every text of the file.

The file is parsed once more for this: only the commands that need it (``check`` of an edition,
``mailer translate``) pay for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mailer.compose.yaml_source import FieldPath

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class TextSpan:
    """A text value in a YAML file: ``start`` and ``end`` index its characters as written
    (quotes and a block's ``|`` included, a block's trailing blank lines left out); ``first``
    and ``last`` are its 1-based lines, from its key's line; ``column`` is its key's (0-based)."""

    start: int
    end: int
    first: int
    last: int
    column: int
    style: str | None  # '|', '>', "'", '"' or None (plain), as PyYAML reports it

    @property
    def lines(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True)
class MappingSpan:
    """A block mapping: where a key added to it goes (after its ``last`` line, at ``column``)."""

    last: int
    column: int
    flow: bool


def text_spans(text: str) -> tuple[dict[FieldPath, TextSpan], dict[FieldPath, MappingSpan]]:
    """Every text value (a mapping's value or a list's item) of the YAML ``text`` by its field
    path, and every mapping by its field path. A value written once and repeated by an alias
    is given at its first place only. The text must parse (the loader has checked it)."""
    root = yaml.compose(text, Loader=_Loader)
    texts: dict[FieldPath, TextSpan] = {}
    mappings: dict[FieldPath, MappingSpan] = {}
    seen: set[int] = set()

    def visit(node: Node, here: FieldPath, key_line: int, key_column: int) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, ScalarNode) and isinstance(node.value, str) and node.tag.endswith(
            ":str"
        ):
            start = node.start_mark.index
            written = text[start : node.end_mark.index]
            end = start + len(written.rstrip()) if node.style in ("|", ">") else node.end_mark.index
            last = text.count("\n", 0, end) + 1
            texts[here] = TextSpan(start, end, key_line, last, key_column, node.style)
        elif isinstance(node, MappingNode):
            end = node.end_mark.index
            last = text.count("\n", 0, len(text[:end].rstrip())) + 1
            mappings[here] = MappingSpan(last, node.start_mark.column, bool(node.flow_style))
            for key_node, value_node in node.value:
                mark = key_node.start_mark
                visit(value_node, (*here, str(key_node.value)), mark.line + 1, mark.column)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                mark = item.start_mark
                visit(item, (*here, index), mark.line + 1, mark.column)

    if root is not None:
        visit(root, (), 1, 0)
    return texts, mappings


def rewrite(text: str, changes: dict[FieldPath, str]) -> str:
    """``text`` with each field of ``changes`` given its new text, everything else (comments,
    order, quoting, line ends) kept to the character.

    A text keeps its style where it can: a block (``|``, ``>``) stays a block, a quoted text
    keeps its quotes. A field the file does not have yet is added as the last key of its
    mapping, which must be there. KeyError names a field that can be neither.
    """
    texts, mappings = text_spans(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    edits: list[tuple[int, int, str]] = []
    for field_path, new in changes.items():
        if field_path in texts:
            span = texts[field_path]
            edits.append((span.start, span.end, _written(new, span.style, span.column, newline)))
            continue
        parent, key = field_path[:-1], field_path[-1]
        mapping = mappings.get(parent)
        if mapping is None or mapping.flow or not isinstance(key, str):
            raise KeyError(field_path)
        at = _line_end(text, mapping.last)
        indent = " " * mapping.column
        line = f"{indent}{key}: {_written(new, None, mapping.column, newline)}"
        edits.append((at, at, line + newline if at < len(text) else newline + line))
    for start, end, written in sorted(edits, key=lambda edit: edit[:2], reverse=True):
        text = text[:start] + written + text[end:]
    return text


def _line_end(text: str, line: int) -> int:
    """The index just after the line break that ends 1-based ``line`` (or the text's end)."""
    at = -1
    for _ in range(line):
        at = text.find("\n", at + 1)
        if at < 0:
            return len(text)
    return at + 1


def _written(text: str, style: str | None, column: int, newline: str) -> str:
    """``text`` as a YAML value after ``key: `` (the key at ``column``), in ``style`` if it
    can be: a block for a block or a text of several lines, else quoted as before or plain."""
    body = text[:-1] if text.endswith("\n") else text
    if (style in ("|", ">") or "\n" in body) and _fits_a_block(body):
        chomp = "" if text.endswith("\n") else "-"
        header = ">" if style == ">" and "\n" not in body else "|"
        indent = " " * (column + 2)
        lines = [indent + line if line else "" for line in body.split("\n")]
        return newline.join([header + chomp, *lines])
    if "\n" in text:
        return json.dumps(text, ensure_ascii=False)  # JSON's strings are YAML's double-quoted
    quoting = {"'": "'", '"': '"'}.get(style or "")
    dumped = yaml.safe_dump(text, allow_unicode=True, width=float("inf"), default_style=quoting)
    return dumped.removesuffix("\n...\n").removesuffix("\n")


def _fits_a_block(body: str) -> bool:
    """Whether ``body`` reads back the same from a literal block: no blank line ending it,
    no line of spaces only, no space opening it, only printable characters."""
    lines = body.split("\n")
    return (
        bool(body) and not body[0].isspace() and lines[-1] != ""
        and all(line.strip() or not line for line in lines)
        and all(ch.isprintable() or ch == "\t" for line in lines for ch in line)
    )
