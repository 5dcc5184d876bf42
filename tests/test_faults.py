"""Servers that fail: one bad batch never stops a send, and a temporary failure never loses
a reader. Real ``mailer send`` runs (in-process) against fault-injecting servers."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from providers import answer_key_checks
from pytest_httpserver import HTTPServer
from sending import Busy, make_project, smtp_server, write_subscribers
from typer.testing import CliRunner
from werkzeug import Request, Response

from mailer.cli import app


@pytest.fixture
def issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    return path


def send(issue: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["send", str(issue), "--yes", *args])
    return result.exit_code, result.output


@pytest.mark.slow
def test_half_the_requests_failing_with_429_or_500_still_reach_everyone_once(
    issue: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = write_subscribers(issue.parents[1] / "subscribers.example.csv", 3000)
    monkeypatch.setenv("MAILGUN_API_KEY", "key-test")
    requests = [0]
    refused: dict[str, int] = {}  # reader -> requests for them refused so far
    taken: list[str] = []
    lock = threading.Lock()

    def answer(request: Request) -> Response:
        """Half the requests are refused, with 429 or 500, but no reader more than twice (a
        server that never lets one through would be a test of patience, not of mailer)."""
        recipients = list(json.loads(request.form["recipient-variables"]))
        with lock:
            requests[0] += 1
            if requests[0] % 2 and all(refused.get(r, 0) < 2 for r in recipients):
                for reader in recipients:
                    refused[reader] = refused.get(reader, 0) + 1
                if requests[0] % 4 == 1:
                    return Response('{"message": "slow down"}', 429, headers={"Retry-After": "1"})
                return Response("upstream connect error", 500)
            taken.extend(recipients)
        return Response(json.dumps({"id": "<b@mg.example.org>", "message": "Queued"}), 200,
                        content_type="application/json")

    httpserver.expect_request("/v3/mg.example.org/messages").respond_with_handler(answer)
    answer_key_checks(httpserver, "mailgun")
    endpoint = httpserver.url_for("/").rstrip("/")
    code, out = send(issue, "--transport", f"mailgun://mg.example.org?endpoint={endpoint}",
                     "--concurrency", "2")
    assert code == 0, out
    assert sorted(taken) == sorted(addresses)  # every reader once, in one run
    assert "in all 3,000 sent, 0 failed, 0 waiting" in out
    assert refused  # it did meet the failures


def test_a_reader_deferred_past_retry_for_stays_deferred_and_the_next_run_delivers(
    issue: Path,
) -> None:
    write_subscribers(issue.parents[1] / "subscribers.example.csv", 5)
    settings = issue.parents[1] / "mailer.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("[send]\n", "[send]\nretry_for = \"3s\"\n"),
        encoding="utf-8",
    )
    busy = Busy("reader2@example.org", times=5)
    server = smtp_server(busy)
    transport = f"smtp://127.0.0.1:{server.port}"
    try:
        code, out = send(issue, "--transport", transport)
        assert code == 3, out
        assert "in all 4 sent, 0 failed, 1 waiting" in out
        assert "1 message is deferred (the last answer: 451 4.2.1 Mailbox busy" in out
        assert f"To resume, run: mailer send {issue} --transport {transport} --yes" in out
        status = CliRunner().invoke(app, ["status", str(issue), "--json"])
        assert json.loads(status.stdout)["counts"]["deferred"] == 1
        code, out = send(issue, "--transport", transport)
    finally:
        server.stop()
    assert code == 0, out
    assert "in all 5 sent, 0 failed, 0 waiting" in out
    assert busy.delivered()["reader2@example.org"] and busy.left == 0


def test_progress_is_a_line_every_few_seconds_when_output_is_not_a_terminal(
    issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailer import console

    monkeypatch.setattr(console, "PROGRESS_EVERY", 0.0)  # every report, to see the lines
    write_subscribers(issue.parents[1] / "subscribers.example.csv", 50)
    code, out = send(issue)
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("Sending: ")]
    assert lines and lines[-1].startswith("Sending: 50 of 50 (100%),")
    assert "/s" in lines[-1]


KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def secret_forms() -> list[str]:
    basic = base64.b64encode(f"api:{KEY}".encode()).decode()
    return [KEY, quote(KEY), basic, basic[4:-4], base64.b64encode(KEY.encode()).decode()[:-4]]


def test_a_server_echoing_the_key_never_gets_it_into_the_ledger_status_or_errors(
    issue: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_subscribers(issue.parents[1] / "subscribers.example.csv", 3)
    settings = issue.parents[1] / "mailer.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("[send]\n", "[send]\nretry_for = 1\n"),
        encoding="utf-8",
    )
    monkeypatch.setenv("MAILGUN_API_KEY", KEY)
    status_code = [503]

    def echo(request: Request) -> Response:
        header = request.headers["Authorization"]  # "Basic base64(api:KEY)"
        return Response(f"gateway refused {header} ({quote(header)})", status_code[0])

    httpserver.expect_request("/v3/mg.example.org/messages").respond_with_handler(echo)
    answer_key_checks(httpserver, "mailgun")
    transport = f"mailgun://mg.example.org?endpoint={httpserver.url_for('/').rstrip('/')}"
    code, out = send(issue, "--transport", transport)
    assert code == 3 and "gateway refused Basic ***" in out, out
    report = CliRunner().invoke(app, ["status", str(issue), "--json", "--csv", tmp_path / "r.csv"])
    ledger_bytes = b"".join(  # the database and its write-ahead log
        path.read_bytes() for path in (issue.parents[1] / ".mailer").glob("ledger.sqlite3*")
    )
    status_code[0] = 401
    code, refused = send(issue, "--transport", transport)
    assert code == 2 and "Mailgun (HTTP 401): gateway refused" in refused
    for text in (out, report.output, (tmp_path / "r.csv").read_text(), refused,
                 ledger_bytes.decode("latin-1")):
        for form in secret_forms():
            assert form not in text
