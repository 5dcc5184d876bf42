"""What pip installs is what mailer imports: every library a module of ``src/mailer`` imports is
a dependency the package declares (not only one that another dependency happens to bring), and
``mailer --version`` says which version is installed."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Extras a user installs for a feature (not the developers' test and docs extras): an import
# of theirs is declared when it is in one of them.
FEATURE_EXTRAS = ("browser",)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalised(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> set[str]:
    """The top-level names of the modules imported when the file runs: an import under
    ``if TYPE_CHECKING:`` is for the type checker only."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_library_mailer_imports_is_declared():
    declared = {_requirement_name(r) for r in PROJECT["dependencies"]}
    for extra in FEATURE_EXTRAS:
        declared |= {_requirement_name(r) for r in PROJECT["optional-dependencies"][extra]}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for path in sorted((ROOT / "src" / "mailer").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module in _runtime_imports(tree):
            if module in sys.stdlib_module_names or module == "mailer":
                continue
            names = {_normalised(d) for d in distributions.get(module, [module])}
            if not names & declared:
                undeclared.setdefault(module, path.relative_to(ROOT).as_posix())
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_version_prints_the_installed_distributions_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    installed = importlib.metadata.version("newsletter-as-code")
    assert result.output == f"mailer {installed} (newsletter-as-code)\n"
