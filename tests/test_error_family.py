"""Every error says what kind it is: no code raises the bare ``MailerError`` (exit 1), and what
the README's Exit status table calls unusable input exits 2 through the CLI, after one
``Error:`` line and no traceback: a theme whose template is not valid MJML, a theme missing a
file, a send ledger that a newer mailer wrote or whose path is not one.
"""

from __future__ import annotations

import ast
import shutil
import sqlite3
from pathlib import Path

import pytest
from projects import mailer
from sending import make_project, write_subscribers

from mailer.compose import theme
from mailer.delivery.ledger import SCHEMA_VERSION, Ledger

SRC = Path(__file__).resolve().parents[1] / "src" / "mailer"


def bare_raises(source: str) -> list[int]:
    """The lines of ``source`` that raise ``MailerError(...)`` itself, not one of its kinds."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and (
            (isinstance(node.exc.func, ast.Name) and node.exc.func.id == "MailerError")
            or (isinstance(node.exc.func, ast.Attribute) and node.exc.func.attr == "MailerError")
        )
    ]


def test_the_search_finds_a_bare_raise_and_nothing_else() -> None:
    source = (
        "try:\n"
        "    raise UsageError('a flag')\n"
        "except MailerError as exc:\n"
        "    raise MailerError(f'again: {exc}') from None\n"
        "raise errors.MailerError('qualified')\n"
        "error = MailerError('made, not raised')\n"
    )
    assert sorted(bare_raises(source)) == [4, 5]


def test_no_code_raises_the_bare_mailer_error() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        for line in bare_raises(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.fixture
def issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 3)
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    return path


def one_error(output: str) -> str:
    """The one line of ``output``, which must be an ``Error:`` line."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


@pytest.mark.parametrize(("broken", "said"), [
    ("<mj-section>", "the template is not valid MJML: "),  # never closed
    ("<mj-bogus>A block</mj-bogus>", "the template uses an unknown MJML tag <mj-bogus>"),
])
def test_a_project_theme_that_is_not_valid_mjml_exits_2(
    issue: Path, tmp_path: Path, broken: str, said: str
) -> None:
    template = issue.parents[1] / "templates" / theme.HTML_TEMPLATE
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("</mj-body>", f"{broken}</mj-body>", 1), encoding="utf-8")
    out = tmp_path / "preview"
    code, output = mailer("preview", issue, "--no-serve", "--out", out)
    assert code == 2, output
    assert said in one_error(output)
    assert not out.exists()


def test_a_theme_missing_a_file_exits_2(
    issue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed theme without its text template (the project has no templates/ of its
    own, so nothing else has one)."""
    shipped = theme.default_folder()
    broken = tmp_path / "installed-theme"
    shutil.copytree(shipped, broken)
    (broken / theme.TEXT_TEMPLATE).unlink()
    monkeypatch.setattr(theme, "default_folder", lambda: broken)
    shutil.rmtree(issue.parents[1] / "templates")
    out = tmp_path / "preview"
    code, output = mailer("preview", issue, "--no-serve", "--out", out)
    assert code == 2, output
    assert one_error(output) == (
        f"Error: the theme has no {theme.TEXT_TEMPLATE} (looked in {broken})"
    )
    assert not out.exists()


def newer_ledger(path: Path) -> bytes:
    """A ledger at ``path`` as a later mailer, with a later schema, leaves it; its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Ledger(path):
        pass
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()  # the last connection: its write is in the file itself, not in the WAL
    return path.read_bytes()


@pytest.mark.parametrize("command", [["status"], ["send", "--yes"]])
def test_a_ledger_from_a_newer_mailer_exits_2_untouched(issue: Path, command: list[str]) -> None:
    ledger = issue.parents[1] / ".mailer" / "ledger.sqlite3"
    before = newer_ledger(ledger)
    code, output = mailer(command[0], issue, *command[1:])
    assert code == 2, output
    assert one_error(output) == (
        f"Error: the send ledger {ledger} was written by a newer mailer (schema "
        f"{SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION}): upgrade mailer to use it"
    )
    assert ledger.read_bytes() == before
    assert not (issue.parents[1] / "outbox").exists()


def test_a_ledger_path_that_is_a_folder_exits_2(issue: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    code, output = mailer("send", issue, "--yes", "--ledger", folder)
    assert code == 2, output
    assert one_error(output).startswith(f"Error: cannot open the send ledger {folder}: ")
    assert not (issue.parents[1] / "outbox").exists()
