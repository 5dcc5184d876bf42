"""MkDocs hook: the reference pages of the user guide, generated from the code at build time.

``reference/settings.md`` has every ``mailer.toml`` key, walked from the pydantic models of
:mod:`mailer.settings` (type, default, and the attribute docstring under the field as its
description); ``reference/commands.md`` has every command with its arguments and options, walked
from the click command that typer makes of :data:`mailer.cli.app`, with the help ``--help``
prints. Neither page is committed: a setting or option added to the code is in the next build,
and tests/test_reference.py fails while a setting has no description.
"""

from __future__ import annotations

import ast
import functools
import html
import inspect
import itertools
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, TypeGuard, get_args, get_origin

import annotated_types
import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mailer import fields
from mailer.cli import DISTRIBUTION, app
from mailer.credentials import SECRET_VARIABLES
from mailer.settings import SendSettings, Settings, SocialNetwork

SETTINGS_PAGE = "reference/settings.md"
COMMANDS_PAGE = "reference/commands.md"

# The value types of mailer.fields, in words, most specific first (Line is a Text).
_KINDS: tuple[tuple[Any, str], ...] = (
    (fields.Line, "text, one line"),
    (fields.Text, "text"),
    (fields.WebUrl, "URL (https://...)"),
    (fields.Colour, "colour, #RRGGBB"),
    (fields.Language, "language tag (en, tr, pt-BR)"),
    (fields.EmailAddress, "email address"),
    (fields.Duration, 'duration: seconds, or "15m", "1h"'),
    (SocialNetwork, "network name"),
)
_PLAIN = {bool: "true or false", int: "whole number", float: "number", str: "text"}


@dataclass(frozen=True)
class Key:
    """One key of a table of ``mailer.toml``."""

    name: str
    kind: str
    default: str
    description: str


@dataclass(frozen=True)
class Table:
    """One table of ``mailer.toml``, as its heading writes it: ``[send]``, ``[[social]]``,
    ``[footer.<tag>]``."""

    heading: str
    description: str
    keys: tuple[Key, ...]


def _words(text: str | None) -> str:
    """A docstring as one line of Markdown table text."""
    return html.escape(" ".join((text or "").split()), quote=False).replace("|", "\\|")


def _metadata_kind(annotation: Any, metadata: list[Any]) -> str:
    """``annotation`` (with the pydantic ``metadata`` of its field) in words."""
    if get_origin(annotation) is Annotated:
        metadata = [*get_args(annotation)[1:], *metadata]
        annotation = get_args(annotation)[0]
    for alias, words in _KINDS:
        if all(item in metadata for item in alias.__metadata__):
            return words
    return _PLAIN.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _kind(info: FieldInfo) -> str:
    annotation, metadata = info.annotation, list(info.metadata)
    if get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) > 1:  # a DSN, or a list of them
            return " or ".join(_metadata_kind(option, metadata) for option in options)
        (annotation,) = options
    words = _metadata_kind(annotation, metadata)
    bounds = []
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            bounds.append(f"at least {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            bounds.append(f"more than {item.gt}")
        elif isinstance(item, annotated_types.Le):
            bounds.append(f"at most {item.le}")
    return ", ".join([words, *bounds])


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return "none"


@functools.cache
def _docstrings(model: type) -> dict[str, str]:
    """The docstring under each field of ``model`` (and of the classes it inherits from)."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (inspect.isclass(cls) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        (definition,) = ast.parse(inspect.cleandoc("\n" + inspect.getsource(cls))).body
        assert isinstance(definition, ast.ClassDef)
        body = definition.body
        for field, after in itertools.pairwise(body):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                found[field.target.id] = inspect.cleandoc(after.value.value)
    return found


def description(model: type[BaseModel], name: str) -> str:
    """The description of ``model``'s field ``name``: the docstring under it in the source."""
    return _docstrings(model).get(name, "")


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _tagged_tables(annotation: Any) -> type[BaseModel] | None:
    """The model of a dict of tables by language tag ([footer.<tag>]); None for any other
    field (a dict of plain values, such as [consent] wording, is a key like the others)."""
    if get_origin(annotation) is not dict:
        return None
    _, value = get_args(annotation)
    return value if _is_model(value) else None


def _named_tables(annotation: Any) -> Any | None:
    """The value type of a dict of named tables, each a value per language
    ([list.topics.<name>]); None for any other field."""
    if get_origin(annotation) is not dict:
        return None
    _, value = get_args(annotation)
    return get_args(value)[1] if get_origin(value) is dict else None


def _keys(model: type[BaseModel], environment: bool = False) -> tuple[Key, ...]:
    keys = []
    for name, info in model.model_fields.items():
        if _tagged_tables(info.annotation) or _named_tables(info.annotation) is not None:
            continue  # tables of their own: [table.<tag>], [table.key.<name>]
        words = _words(description(model, name))
        if environment:  # settings.load_settings reads MAILER_<KEY> over every [send] key
            words += f" Environment: `MAILER_{name.upper()}`."
        keys.append(Key(name, _kind(info), _default(info), words))
    return tuple(keys)


def settings_tables() -> Iterator[Table]:
    """Every table of ``mailer.toml``, in the order of :class:`mailer.settings.Settings`."""
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if get_origin(annotation) is list:
            (model,) = get_args(annotation)
            yield Table(f"[[{name}]]", _words(description(Settings, name)), _keys(model))
            continue
        assert _is_model(annotation), f"Settings.{name} is not a table"
        yield Table(f"[{name}]", _words(description(Settings, name)),
                    _keys(annotation, environment=annotation is SendSettings))
        for inner_name, inner_info in annotation.model_fields.items():
            words = _words(description(annotation, inner_name))
            if model := _tagged_tables(inner_info.annotation):
                yield Table(f"[{name}.<tag>]", words, _keys(model))
            elif (value := _named_tables(inner_info.annotation)) is not None:
                label = Key("<tag>", _metadata_kind(value, []), "not set",
                            "Its value in the language `<tag>` (`en`, `tr`, `ar`).")
                yield Table(f"[{name}.{inner_name}.<name>]", words, (label,))


def _installed() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "(not installed)"


def settings_page() -> str:
    lines = [
        "# mailer.toml",
        "",
        "Every key `mailer.toml` may have, table by table. `mailer` finds the file in the "
        "issue's folder or the nearest folder above it; paths in it are relative to it. "
        "Secrets never go in it: see [the secrets](#secrets) below.",
        "",
        f"*Generated from the code of mailer {_installed()}.*",
        "",
    ]
    for table in settings_tables():
        lines += [f"## `{table.heading}`", "", table.description, "",
                  "| key | type | default | what it does |", "| --- | --- | --- | --- |"]
        lines += [f"| `{key.name}` | {key.kind} | {key.default} | {key.description} |"
                  for key in table.keys]
        lines.append("")
    lines += [
        "## Secrets",
        "",
        "Read from the environment only, never from a file `mailer` reads, and taken out of "
        "everything it prints or records. [Secrets](../secrets.md) says which "
        "ones a project needs and how to set them.",
        "",
    ]
    lines += [f"- `{name}`" for name in SECRET_VARIABLES]
    return "\n".join(lines) + "\n"


# The command tree is walked through click's interface without importing click: typer brings
# a click of its own (typer._click), whose classes are not the click package's.
Command = Any
Context = Any


def _is_argument(param: Any) -> bool:
    return bool(param.param_type_name == "argument")


def _is_group(command: Command) -> bool:
    return hasattr(command, "list_commands")


def _usage(command: Command, context: Context) -> str:
    pieces = [context.command_path]
    if any(not _is_argument(p) for p in command.get_params(context)):
        pieces.append("[OPTIONS]")
    for param in command.params:
        if _is_argument(param):
            metavar = param.metavar or (param.name or "").upper()
            pieces.append(metavar if param.required else f"[{metavar}]")
    if _is_group(command):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


def _parameters(command: Command, context: Context) -> list[str]:
    rows = []
    for param in command.get_params(context):
        if _is_argument(param):
            name = param.metavar or (param.name or "").upper()
            help_text = getattr(param, "help", None) or ""
            if param.required:
                help_text += " (required)"
        else:
            record = param.get_help_record(context)
            if record is None:  # a hidden option
                continue
            name, help_text = record
        rows.append(f"| `{name}` | {_words(help_text)} |")
    return ["| argument or option | what it does |", "| --- | --- |", *rows] if rows else []


def _command_sections(command: Command, context: Context, depth: int) -> Iterator[str]:
    yield f"{'#' * depth} `{context.command_path}`"
    yield ""
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        yield html.escape(" ".join(paragraph.split()), quote=False)
        yield ""
    yield "```text"
    yield _usage(command, context)
    yield "```"
    yield ""
    yield from _parameters(command, context)
    yield ""
    if _is_group(command):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                inner = sub.context_class(sub, info_name=name, parent=context)
                # mailer's commands sit beside it; a group's commands (suppressions) under it
                yield from _command_sections(sub, inner, depth if context.parent is None
                                             else depth + 1)


def commands() -> tuple[Command, Context]:
    """The ``mailer`` command as click sees it, with its context."""
    group = typer.main.get_command(app)
    return group, group.context_class(group, info_name="mailer")


def commands_page() -> str:
    group, context = commands()
    lines = [
        "# Commands",
        "",
        "Every command with its arguments and options, as `mailer COMMAND --help` prints "
        "them. How each command ends is in [exit codes](../exit-codes.md).",
        "",
        f"*Generated from the code of mailer {_installed()}.*",
        "",
    ]
    lines += list(_command_sections(group, context, depth=2))
    return "\n".join(lines).rstrip() + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the build (they are not in docs/)."""
    for uri, content in ((SETTINGS_PAGE, settings_page()), (COMMANDS_PAGE, commands_page())):
        files.append(File.generated(config, uri, content=content))
    return files
