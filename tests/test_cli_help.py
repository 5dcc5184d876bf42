"""``mailer COMMAND --help`` reads as written: square brackets are text, not markup, and every
option that takes a value names what it wants (CSV, DSN, ADDRESS), never a Python type."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from mailer.cli import app

COMMANDS = ["preview", "check", "init", "new", "translate", "send", "status", "archive", "serve"]


def help_of(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_send_help_keeps_its_square_brackets():
    text = help_of("send")
    assert "(default: [send] subscribers)" in text
    assert "(default: [send] transport)" in text
    assert "Send a [TEST] copy" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_no_option_shows_a_python_type(command):
    options = help_of(command).split("Options:", 1)[1]
    assert not re.findall(r"<(?:bool|str|int|float|path|list)[^>]*>", options)


def test_options_name_what_they_take():
    text = help_of("send")
    for option in ("--subscribers CSV", "--transport DSN", "--to ADDRESS", "--concurrency N",
                   "--rate RATE", "--ledger PATH", "--settings PATH"):
        assert option in text
    assert "--out FOLDER" in help_of("preview") and "--timeout SECONDS" in help_of("check")
