"""``[send] transport`` as a list: when the first provider refuses the account, or stays
unreachable for ``failover_after``, the readers left go through the next; nobody gets the issue
through two; each ledger row records its transport and ``mailer status`` counts them. The
providers are pytest-httpserver speaking Postmark's and Mailgun's documented APIs, and the
local SES (tests/local_ses.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws import LocalSes, aws_environment
from projects import mailer
from providers import PROVIDERS, answer_key_checks, as_json, postmark_answer, recipients_of
from pytest_httpserver import HTTPServer
from sending import make_project, write_subscribers
from werkzeug import Request, Response

from mailer.delivery.ledger import Ledger

BAD_TOKEN = {"ErrorCode": 10, "Message": "Bad or missing API token"}  # Postmark's 401


class Provider:
    """An ESP on ``server`` that takes ``accepting`` messages, then answers ``refusal``."""

    def __init__(self, name: str, server: HTTPServer, accepting: int | None = None,
                 refusal: Response | None = None) -> None:
        self.name = name
        self.taken: list[str] = []
        self.accepting = accepting
        self.refusal = refusal
        self.lock = threading.Lock()
        answer_key_checks(server, name)
        server.expect_request(PROVIDERS[name].path, method="POST").respond_with_handler(
            self.answer
        )
        endpoint = server.url_for("/").rstrip("/")
        scheme = PROVIDERS[name].scheme
        self.dsn = f"{scheme}{'&' if '?' in scheme else '?'}endpoint={endpoint}"

    def answer(self, request: Request) -> Response:
        recipients = recipients_of(self.name, request)
        with self.lock:
            if self.refusal is not None and (
                self.accepting is None or len(self.taken) >= self.accepting
            ):
                return self.refusal
            self.taken += recipients
        if self.name == "postmark":
            return as_json([postmark_answer(n, r) for n, r in enumerate(recipients)])
        return PROVIDERS[self.name].success(len(recipients))


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transports: list[str],
            readers: int, failover_after: str = "2m") -> Path:
    issue = make_project(tmp_path / "news")
    settings = tmp_path / "news" / "mailer.toml"
    listed = ", ".join(json.dumps(dsn) for dsn in transports)
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        'transport = "outbox://outbox"',
        f'transport = [{listed}]\nfailover_after = "{failover_after}"',
    ), encoding="utf-8")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", readers)
    for variable in ("POSTMARK_SERVER_TOKEN", "MAILGUN_API_KEY"):
        monkeypatch.setenv(variable, "key-0123456789abcdef")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "u" * 40)
    monkeypatch.chdir(tmp_path / "news")
    return issue


def by_transport(issue: Path) -> dict[str | None, int]:
    with Ledger(issue.parents[1] / ".mailer" / "ledger.sqlite3") as ledger:
        return ledger.sent_by_transport("send-test")


@pytest.mark.slow
def test_a_provider_refusing_the_account_after_1000_leaves_2000_to_the_next(
    tmp_path, monkeypatch, httpserver: HTTPServer, second_server: HTTPServer,
) -> None:
    first = Provider("postmark", httpserver, 1000, as_json(BAD_TOKEN, 401))
    second = Provider("mailgun", second_server)
    issue = project(tmp_path, monkeypatch, [first.dsn, second.dsn], 3000)
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert "Failed over from postmark://" in out and "Bad or missing API token" in out
    assert (len(first.taken), len(second.taken)) == (1000, 2000)
    everyone = {f"reader{n}@example.org" for n in range(3000)}
    assert set(first.taken) | set(second.taken) == everyone  # everyone, and nobody twice
    assert by_transport(issue) == {first.dsn: 1000, second.dsn: 2000}
    code, out = mailer("status", issue)
    assert f"sent through {first.dsn}: 1,000" in out
    assert f"sent through {second.dsn}: 2,000" in out
    code, out = mailer("send", issue, "--yes")  # a resume has nothing left to do
    assert code == 0 and "sent 0 now" in out
    assert (len(first.taken), len(second.taken)) == (1000, 2000)


def test_a_paused_ses_account_fails_over_mid_send_and_nobody_gets_two_copies(
    tmp_path, monkeypatch, local_ses_url: str, httpserver: HTTPServer,
) -> None:
    aws_environment(monkeypatch)
    ses = LocalSes(local_ses_url)
    ses.verify_sender()
    ses.rules(account_error=["SendingPausedException", "Sending is paused for this account."],
              account_error_after=10)
    second = Provider("postmark", httpserver)
    issue = project(tmp_path, monkeypatch, [ses.dsn, second.dsn], 30)
    code, out = mailer("send", issue, "--yes", "--concurrency", "1")
    assert code == 0, out
    assert "Sending is paused for this account" in out
    first = ses.received()
    assert (len(first), len(second.taken)) == (10, 20)
    assert sorted(first + second.taken) == sorted(f"reader{n}@example.org" for n in range(30))
    assert by_transport(issue) == {ses.dsn: 10, second.dsn: 20}


def test_a_provider_unreachable_for_failover_after_leaves_the_rest_to_the_next(
    tmp_path, monkeypatch, httpserver: HTTPServer, second_server: HTTPServer,
) -> None:
    unavailable = as_json({"ErrorCode": 0, "Message": "Service Unavailable"}, 503)
    first = Provider("postmark", httpserver, refusal=unavailable)
    second = Provider("mailgun", second_server)
    issue = project(tmp_path, monkeypatch, [first.dsn, second.dsn], 20, failover_after="1s")
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert "no message accepted for 1 s" in out
    assert (len(first.taken), sorted(second.taken)) == (
        0, sorted(f"reader{n}@example.org" for n in range(20)))
    assert by_transport(issue) == {second.dsn: 20}


def test_a_send_names_the_missing_secret_of_a_transport_it_may_fail_over_to(
    tmp_path, monkeypatch, httpserver: HTTPServer,
) -> None:
    first = Provider("postmark", httpserver)
    issue = project(tmp_path, monkeypatch, [first.dsn, "mailgun://mg.example.org"], 3)
    monkeypatch.delenv("MAILGUN_API_KEY")
    code, out = mailer("send", issue, "--yes")
    assert code == 2 and "MAILGUN_API_KEY" in out, out
    assert first.taken == [] and httpserver.log == []  # nothing connected
    code, out = mailer("doctor", "--offline", "--settings", issue.parents[1] / "mailer.toml")
    assert "MAILGUN_API_KEY (sending through Mailgun): not set" in out, out
