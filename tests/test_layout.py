"""The package's layout is its architecture: a module's stage says what it may import.

Read from the source with ``ast`` (every import, also those inside functions): no stage
imports a later one, and the transports never read settings (the factory hands them what they
need). The stages in pipeline order, each allowed to import the ones before it:
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mailer"

GROUND = (
    "errors", "fields", "field_errors", "settings", "credentials", "console", "textfiles",
    "database", "spreadsheets",
)
STAGES = (
    "ground", "compose", "audience", "delivery", "archive", "feedback", "web", "preview", "checks",
    "doctor", "cli",
)


def stage_of(module: str) -> str:
    """``mailer.compose.render`` -> ``compose``; ``mailer.settings`` -> ``ground``."""
    parts = module.split(".")
    if len(parts) == 1:  # the package itself
        return "ground"
    if parts[1] in GROUND:
        return "ground"
    return parts[1]


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


def imports_of(module: str, path: Path) -> set[str]:
    """Every ``mailer.*`` module ``path`` imports, wherever the import statement stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "mailer" or name.startswith("mailer.")}


def known(name: str) -> bool:
    """Whether ``name`` is a module of the package (not a name imported from one)."""
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


ALL = modules()


def test_every_module_has_a_stage() -> None:
    unknown = {module: stage_of(module) for module, _ in ALL if stage_of(module) not in STAGES}
    assert unknown == {}, "a new top-level module needs its place in STAGES or GROUND"


@pytest.mark.parametrize(("module", "path"), ALL, ids=[module for module, _ in ALL])
def test_no_stage_imports_a_later_one(module: str, path: Path) -> None:
    mine = STAGES.index(stage_of(module))
    later = sorted(
        name for name in imports_of(module, path)
        if known(name) and STAGES.index(stage_of(name)) > mine
    )
    assert later == [], f"{module} ({stage_of(module)}) imports a later stage"


def test_the_named_rules_hold() -> None:
    """The issue's own words: compose never imports audience or delivery, audience never
    imports delivery, transports never import settings."""
    rules = {
        "mailer.compose": ("mailer.audience", "mailer.delivery"),
        "mailer.audience": ("mailer.delivery",),
        "mailer.delivery.transports": ("mailer.settings",),
    }
    broken = []
    for module, path in ALL:
        for owner, forbidden in rules.items():
            if module == owner or module.startswith(owner + "."):
                broken += [
                    (module, name) for name in imports_of(module, path)
                    if any(name == f or name.startswith(f + ".") for f in forbidden)
                ]
    assert broken == []


def test_the_rule_reader_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "def f():\n    from mailer.delivery.send import send_issue\n"
        "from ..audience import subscribers\n",
        encoding="utf-8",
    )
    found = imports_of("mailer.compose.probe", source)
    assert "mailer.delivery.send" in found and "mailer.audience.subscribers" in found


def test_every_package_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages by hand (to map templates/ to mailer.theme): a new
    package folder must be added there, or the installed mailer would not have it."""
    import tomllib

    config = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(init.parent.relative_to(PACKAGE.parent).parts)
        for init in PACKAGE.rglob("__init__.py")
    }
    assert listed == folders | {"mailer.theme"}
    assert config["tool"]["setuptools"]["package-dir"]["mailer.theme"] == "templates"
