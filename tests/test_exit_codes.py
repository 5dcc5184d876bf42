"""Every command, given a bad input of each kind, exits with the status the README's table
gives it, after one ``Error:`` line and no traceback:

0 done; 1 checks found errors, or some recipients failed permanently; 2 the input cannot be
used (issue, settings, CSV, DSN, missing secret); 3 the send is not finished and running it
again continues it; 130 interrupted (``test_campaign`` sends a real SIGINT to a real send).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sending import Faults, Recorder, free_port, make_project, smtp_server, write_subscribers
from typer.testing import CliRunner

from mailer.cli import app

COMMANDS = ("preview", "check", "send", "status")


@pytest.fixture
def issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 5)
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    return path


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"a traceback: {result.exception!r}"
    )
    return result.exit_code, result.output


def command_line(command: str, issue: Path) -> list[object]:
    """``command`` run on ``issue`` as a person would, without touching the network."""
    return {
        "preview": ["preview", issue, "--no-serve", "--out", issue.parents[1] / "out"],
        "check": ["check", issue, "--offline"],
        "send": ["send", issue, "--yes"],
        "status": ["status", issue],
    }[command]


def break_issue(issue: Path) -> None:
    issue.write_text(issue.read_text(encoding="utf-8").replace("title: Lead story",
                                                               "tittle: Lead story"))


def break_settings(issue: Path) -> None:
    settings = issue.parents[1] / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[send\n", encoding="utf-8")


UNUSABLE: dict[str, Callable[[Path], None]] = {
    "an issue with an unknown field": break_issue,
    "settings that are not TOML": break_settings,
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_issue_or_settings_exit_2(issue: Path, command: str, kind: str) -> None:
    UNUSABLE[kind](issue)
    code, out = run(*command_line(command, issue))
    assert code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, out


@pytest.mark.parametrize(("flags", "named"), [
    (["--transport", "pigeon://loft"], "unknown scheme 'pigeon'"),
    (["--transport", "sendgrid://"], "SENDGRID_API_KEY"),
    (["--subscribers", "missing.csv"], "missing.csv"),
    (["--strict"], "not a valid address"),
    (["--to", "not an address"], "--to: not a valid address"),
])
def test_send_with_unusable_input_exits_2_and_sends_nothing(
    issue: Path, flags: list[str], named: str
) -> None:
    csv = issue.parents[1] / "subscribers.example.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "not-an-address,X,X,X\n", encoding="utf-8")
    code, out = run("send", issue, "--yes", *flags)
    assert code == 2, out
    assert named in out
    assert not (issue.parents[1] / "outbox").exists()


def test_a_subscriber_list_without_an_email_column_exits_2(issue: Path) -> None:
    (issue.parents[1] / "subscribers.example.csv").write_text("name\nAyşe\n", encoding="utf-8")
    code, out = run("send", issue, "--yes")
    assert code == 2 and "no 'email' column" in out


def test_status_of_an_unsent_issue_exits_2(issue: Path) -> None:
    assert run("status", issue)[0] == 2


def test_checks_with_errors_exit_1_for_check_and_send(issue: Path) -> None:
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace('alt: "A photo"', 'alt: "photo.png"'), encoding="utf-8")
    assert run("check", issue, "--offline")[0] == 1
    code, out = run("send", issue, "--yes")
    assert code == 1 and "not sending: the offline checks found 1 error(s)" in out


def test_a_recipient_failing_for_good_exits_1(issue: Path) -> None:
    server = smtp_server(Recorder(Faults(reject={"reader2@example.org"})))
    try:
        code, out = run("send", issue, "--yes", "--transport", f"smtp://127.0.0.1:{server.port}")
    finally:
        server.stop()
    assert code == 1, out
    assert "4 sent, 1 failed" in out and "Error: 1 recipient failed permanently" in out


def test_a_send_paused_after_errors_in_a_row_exits_3(issue: Path) -> None:
    settings = issue.parents[1] / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[send]\n", "[send]\nmax_errors_in_a_row = 2\nconcurrency = 1\n"
    ), encoding="utf-8")
    closing = smtp_server(Recorder(Faults(closing=1.0)))
    transport = f"smtp://127.0.0.1:{closing.port}"
    try:
        code, out = run("send", issue, "--yes", "--transport", transport)
    finally:
        closing.stop()
    assert code == 3, out
    assert "paused after 2 errors in a row" in out and "run the same send again" in out
    assert f"To resume, run: mailer send {issue} --transport {transport} --yes" in out


def test_a_server_that_cannot_be_reached_exits_3(issue: Path) -> None:
    code, out = run("send", issue, "--yes", "--transport", f"smtp://127.0.0.1:{free_port()}")
    assert code == 3 and "cannot connect" in out


def test_a_clean_run_of_each_command_exits_0(issue: Path) -> None:
    for command in COMMANDS:
        code, out = run(*command_line(command, issue))
        assert code == 0, (command, out)


@pytest.mark.parametrize("how", [["--yes"], ["--dry-run"]], ids=["send", "dry-run"])
@pytest.mark.parametrize("login", ["", "alice@"], ids=["no-login", "login"])
@pytest.mark.parametrize("server_up", [False, True], ids=["server-down", "server-up"])
def test_every_missing_secret_is_named_at_once_before_anything_connects(
    issue: Path, monkeypatch: pytest.MonkeyPatch, how: list[str], login: str, server_up: bool
) -> None:
    monkeypatch.delenv("MAILER_UNSUBSCRIBE_SECRET")
    monkeypatch.delenv("MAILER_SMTP_PASSWORD", raising=False)
    recorder = Recorder()
    server = smtp_server(recorder) if server_up else None
    port = server.port if server else free_port()
    try:
        code, out = run("send", issue, *how, "--transport", f"smtp://{login}127.0.0.1:{port}")
    finally:
        if server:
            server.stop()
    signing = "signing the readers' unsubscribe links needs"
    assert code == 2, out
    assert out.splitlines() == [
        f"Error: the SMTP login as alice needs the environment variable MAILER_SMTP_PASSWORD "
        f"and {signing} MAILER_UNSUBSCRIBE_SECRET (neither is set)" if login else
        f"Error: {signing} the environment variable MAILER_UNSUBSCRIBE_SECRET (it is not set)"
    ]
    assert recorder.greetings == 0  # nothing connected
    assert not (issue.parents[1] / ".mailer" / "ledger.sqlite3").exists()


def test_a_signing_secret_too_short_is_named_with_the_missing_ones_before_connecting(
    issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "x7Qz9pL")
    monkeypatch.delenv("MAILER_SMTP_PASSWORD", raising=False)
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        code, out = run("send", issue, "--yes", "--transport",
                        f"smtp://alice@127.0.0.1:{server.port}")
    finally:
        server.stop()
    assert code == 2, out
    assert out.splitlines() == [
        "Error: the SMTP login as alice needs the environment variable MAILER_SMTP_PASSWORD "
        "(it is not set); MAILER_UNSUBSCRIBE_SECRET is too short for signing the readers' "
        "unsubscribe links: use a random value of at least 16 characters (32 or more is better)"
    ]
    assert recorder.greetings == 0  # nothing connected


def test_an_esp_send_names_its_key_and_the_signing_secret_before_any_request(
    issue: Path, monkeypatch: pytest.MonkeyPatch, httpserver
) -> None:
    monkeypatch.delenv("MAILER_UNSUBSCRIBE_SECRET")
    endpoint = httpserver.url_for("/").rstrip("/")
    code, out = run("send", issue, "--yes", "--transport", f"sendgrid://?endpoint={endpoint}")
    assert code == 2, out
    assert out.splitlines() == [
        "Error: sending through SendGrid needs the environment variable SENDGRID_API_KEY and "
        "signing the readers' unsubscribe links needs MAILER_UNSUBSCRIBE_SECRET (neither is set)"
    ]
    assert httpserver.log == []


def test_the_outbox_needs_no_secret(issue: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILER_UNSUBSCRIBE_SECRET")
    code, out = run("send", issue, "--yes")
    assert code == 0, out
