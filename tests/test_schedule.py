"""``send_at:``: a send before the time sends nothing and says when; at or after it, it sends;
``--wait`` waits for it; ``--to`` never waits; ``check`` warns of a time gone by."""

from __future__ import annotations

import datetime
import json
import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest
from projects import mailer, position
from sending import ISSUE, make_project, write_subscribers

from mailer.console import Console
from mailer.delivery.ledger import Ledger
from mailer.delivery.send import SendRequest, send_issue

UTC = datetime.UTC
ANKARA = datetime.timezone(datetime.timedelta(hours=3))


class FakeClock:
    """A clock that is ``now`` until someone sleeps, which moves it on at once."""

    def __init__(self, now: datetime.datetime) -> None:
        self.current = now
        self.slept: list[float] = []

    def now(self) -> datetime.datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += datetime.timedelta(seconds=seconds)


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    issue = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 5)
    monkeypatch.chdir(tmp_path / "news")
    return issue


def scheduled(issue: Path, send_at: str) -> Path:
    issue.write_text(ISSUE.lstrip() + f"send_at: {send_at}\n", encoding="utf-8")
    return issue


def sent(issue: Path) -> list[mailbox.MaildirMessage]:
    folder = issue.parents[1] / "outbox"
    return list(mailbox.Maildir(folder, create=False)) if folder.exists() else []


def test_an_hour_ahead_sends_nothing_and_exits_0(news: Path) -> None:
    # Written to the minute: between 1 h 30 s and 1 h 90 s ahead.
    ahead = datetime.datetime.now(ANKARA) + datetime.timedelta(hours=1, seconds=90)
    scheduled(news, ahead.isoformat(timespec="minutes"))
    code, out = mailer("send", news, "--yes")
    assert code == 0, out
    assert f"send-test: scheduled for {ahead:%Y-%m-%d %H:%M}+03:00 (in 1 h" in out
    assert "nothing sent." in out and "--wait" in out
    assert sent(news) == [] and not (news.parents[1] / ".mailer" / "ledger.sqlite3").exists()

    code, out = mailer("send", news, "--to", "editor@example.org")  # never held back
    assert code == 0, out
    assert "[TEST] editor@example.org: sent" in out and len(sent(news)) == 1


def test_a_second_in_the_past_sends_everyone_once(news: Path) -> None:
    past = datetime.datetime.now(UTC) - datetime.timedelta(seconds=1)
    scheduled(news, past.isoformat(timespec="seconds"))
    code, out = mailer("send", news, "--yes")
    assert code == 0, out
    assert "Done: sent 5 now" in out and len(sent(news)) == 5
    code, out = mailer("send", news, "--yes")  # resumes as ever: nothing left
    assert code == 0 and "sent 0 now" in out and len(sent(news)) == 5


def test_the_time_is_read_from_the_clock_and_wait_sleeps_until_it(news: Path) -> None:
    scheduled(news, "2026-01-15T09:00+03:00")
    clock = FakeClock(datetime.datetime(2026, 1, 15, 2, 40, tzinfo=UTC))  # 05:40 in Ankara
    lines: list[str] = []
    console = Console()
    console.say = lambda text, err=False: lines.append(text)  # type: ignore[method-assign]
    send_issue(SendRequest(issue=news, assume_yes=True), console, clock=clock)
    assert lines[0] == (
        "send-test: scheduled for 2026-01-15 09:00+03:00 (in 3 h 20 min); nothing sent."
    )
    assert sent(news) == [] and clock.slept == []

    send_issue(SendRequest(issue=news, assume_yes=True, wait=True), console, clock=clock)
    assert sum(clock.slept) == pytest.approx(3 * 3600 + 20 * 60)
    assert clock.current == datetime.datetime(2026, 1, 15, 9, 0, tzinfo=ANKARA)
    assert "Waiting to send: scheduled for 2026-01-15 09:00+03:00 (in 3 h 20 min)" in lines
    assert len(sent(news)) == 5


def test_wait_really_waits_for_send_at(news: Path) -> None:
    """The command a systemd timer runs, as a process on the system clock: 5 s ahead, nothing
    goes before send_at, everyone after it."""
    send_at = (datetime.datetime.now(UTC) + datetime.timedelta(seconds=5)).replace(microsecond=0)
    scheduled(news, send_at.isoformat())
    done = subprocess.run(
        [sys.executable, "-c", "from mailer.cli import main; main()",
         "send", str(news), "--yes", "--wait"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # (whether it said "Waiting to send" depends on how long it took to start: not asserted)
    assert "Done: sent 5 now" in done.stdout
    folder = news.parents[1] / "outbox" / "new"
    written = [os.stat(folder / name).st_mtime for name in os.listdir(folder)]
    assert len(written) == 5 and min(written) >= send_at.timestamp()
    with Ledger(news.parents[1] / ".mailer" / "ledger.sqlite3", read_only=True) as ledger:
        assert (ledger.first_sent("send-test") or 0) >= int(send_at.timestamp())


@pytest.mark.parametrize(("value", "message"), [
    ("2026-01-15T09:00", "2026-01-15T09:00:00 has no offset from UTC"),
    ("2026-01-15T09:00:00", "2026-01-15T09:00:00 has no offset from UTC"),  # a YAML timestamp
    ("2026-01-15", "not a time: datetime.date(2026, 1, 15)"),
    ("soon", "not a time: 'soon'"),
])
def test_a_time_without_an_offset_is_a_located_error(news: Path, value: str, message: str) -> None:
    scheduled(news, value)
    code, out = mailer("send", news, "--yes")
    assert code == 2
    assert out.startswith(f"Error: {position(news, 'send_at:')}: send_at: ")
    assert message in out and len(out.splitlines()) == 1
    assert sent(news) == []


def test_an_edition_is_sent_with_its_issue(news: Path) -> None:
    scheduled(news, "2026-01-15T09:00+03:00")
    edition = news.with_name("send-test.tr.yaml")
    edition.write_text("subject: Haberler\nsend_at: 2026-01-16T09:00+03:00\n", encoding="utf-8")
    code, out = mailer("send", news, "--yes")
    assert code == 2
    assert f"Error: {edition}:2:1: send_at: every edition is sent at the issue's send_at" in out


def test_check_warns_of_a_send_at_gone_by_until_the_issue_is_sent(news: Path) -> None:
    scheduled(news, "2020-01-15T09:00+03:00")

    def schedule_findings() -> list[dict]:
        _, out = mailer("check", news, "--offline", "--json")
        return [f for f in json.loads(out)["findings"] if f["check"] == "schedule"]

    (finding,) = schedule_findings()
    assert finding["severity"] == "warning"
    where = finding["location"]
    assert f"{where['path']}:{where['line']}:{where['column']}" == position(news, "send_at:")
    assert "send_at 2020-01-15 09:00+03:00 was " in finding["message"]
    assert "has not been sent" in finding["message"]
    assert mailer("send", news, "--yes", "--force")[0] == 0
    assert schedule_findings() == []
