"""The user guide's reference is complete: every ``mailer.toml`` key is described (by the
docstring under its field in src/mailer/settings.py) and named on the generated settings page
under its table, and every command and option is on the generated commands page.

The pages are made by docs/hooks/reference.py, the hook ``mkdocs build`` runs; this test loads
it the same way, from its file.
"""

from __future__ import annotations

import html
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_origin

import pytest
import typer
from pydantic import BaseModel

from mailer.cli import app
from mailer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> ModuleType:
    name = "docs_hooks_reference"
    if name not in sys.modules:
        path = ROOT / "docs" / "hooks" / "reference.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside list[...], dict[..., ...],
    X | None."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


def every_setting(model: type[BaseModel] = Settings, path: str = "") -> Iterator[tuple[str, str]]:
    """Every field of every model reachable from ``model``, as ``(dotted path, description)``."""
    for name, info in model.model_fields.items():
        dotted = f"{path}.{name}" if path else name
        yield dotted, _hook().description(model, name)
        for inner in _models_in(info.annotation):
            yield from every_setting(inner, dotted)


def tables() -> Iterator[tuple[str, type[BaseModel]]]:
    """Each table of mailer.toml as TOML writes its heading, with its model: a model field is
    ``[name]``, a list of them ``[[name]]``, and a dict of them inside a table (the footer's
    languages) ``[table.<tag>]``."""
    for name, info in Settings.model_fields.items():
        (model,) = _models_in(info.annotation)
        yield (f"[[{name}]]" if get_origin(info.annotation) is list else f"[{name}]"), model
        for inner in model.model_fields.values():
            if get_origin(inner.annotation) is dict:
                # [list.topics.<name>] holds a label per language, not a model's keys
                for tagged in _models_in(inner.annotation):
                    yield f"[{name}.<tag>]", tagged


def sections(page: str) -> dict[str, str]:
    """The page's sections under ``## `heading` `` and ``### `heading` ``, by heading."""
    return {
        part.split("\n", 1)[0].strip("` "): part
        for part in re.split(r"^###? ", page, flags=re.M)[1:]
    }


def test_every_setting_has_a_description():
    undescribed = [path for path, words in every_setting() if not words.strip()]
    assert not undescribed, (
        f"settings without a description (a docstring under the field): {undescribed}"
    )


def test_the_settings_page_names_every_key_under_its_table():
    page = sections(_hook().settings_page())
    for heading, model in tables():
        assert heading in page, f"no section {heading} on the settings page"
        for name, info in model.model_fields.items():
            if get_origin(info.annotation) is dict and (
                list(_models_in(info.annotation))
                or get_origin(get_args(info.annotation)[1]) is dict
            ):
                continue  # its tables ([table.<tag>], [table.key.<name>]) have sections
            row = re.search(rf"^\| `{name}` \|(.*)$", page[heading], flags=re.M)
            assert row, f"{heading} {name} is not on the settings page"
            words = _hook().description(model, name)
            description = html.escape(" ".join(words.split()), quote=False)
            assert description.replace("|", "\\|") in row.group(1)


def test_the_settings_page_shows_the_topics_table_and_its_labels():
    topics = sections(_hook().settings_page())["[list.topics.<name>]"]
    assert "[list.topics.partners]" in topics  # the description's example
    assert re.search(r"^\| `<tag>` \| text, one line \| not set \| Its value in the language",
                     topics, flags=re.M)


def test_the_settings_page_shows_types_and_defaults():
    send = sections(_hook().settings_page())["[send]"]
    assert re.search(r"^\| `concurrency` \| whole number, at least 1, at most 64 \| `4` \|",
                     send, flags=re.M)
    assert re.search(r"^\| `retry_for` \| duration.* \| `900` \| .*`MAILER_RETRY_FOR`", send,
                     flags=re.M)
    brand = sections(_hook().settings_page())["[brand]"]
    assert re.search(r"^\| `organisation` \| text, one line \| required \|", brand, flags=re.M)


def _commands(command: Any, context: Any) -> Iterator[tuple[str, Any, Any]]:
    yield context.command_path, command, context
    if hasattr(command, "list_commands"):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            yield from _commands(sub, sub.context_class(sub, info_name=name, parent=context))


@pytest.fixture(scope="module")
def commands_page() -> dict[str, str]:
    return sections(_hook().commands_page())


def test_the_commands_page_has_every_command_and_option(commands_page):
    root = typer.main.get_command(app)
    found = list(_commands(root, root.context_class(root, info_name="mailer")))
    assert {"mailer send", "mailer suppressions pull"} <= {path for path, _, _ in found}
    for path, command, context in found:
        assert path in commands_page, f"{path} has no section on the commands page"
        for param in command.get_params(context):
            if param.param_type_name == "argument":
                names = [param.metavar or param.name.upper()]
            else:
                names = [*param.opts, *param.secondary_opts]
            for name in names:
                assert re.search(rf"^\| `[^`]*{re.escape(name)}\b", commands_page[path],
                                 flags=re.M), f"{path}: {name} is not on the commands page"
