"""What readers answered, counted per issue: ``mailer status`` counts each issue's bounces from
the events (an address that bounced two issues counts for both), ``mailer bounces`` counts
addresses, and rates say what they divide by; ``status`` changes no file while it reports."""

from __future__ import annotations

import csv
import hashlib
import json
import mailbox
import sqlite3
from pathlib import Path

import pytest
from projects import mailer
from sending import make_bounce_project, write_subscribers

from mailer.audience.verp import Verp

SECRET = "feedback-test-secret-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "mailbox"
POSTFIX_DSN = FIXTURES / "postfix-5.1.1-user-unknown.eml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    issue = make_bounce_project(tmp_path / "news")
    second = issue.with_name("send-test-2.yaml")
    second.write_text(issue.read_text(encoding="utf-8").replace("id: send-test\n",
                                                                "id: send-test-2\n"),
                      encoding="utf-8")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    return tmp_path / "news"


def postfix_bounce(issue: str, address: str) -> bytes:
    """Postfix's real "User unknown" DSN, as it comes back for ``issue`` sent to ``address``:
    to that send's VERP address, quoting that issue's message, with its own queue id."""
    verp = Verp(SECRET, "bounces@example.org").envelope(issue, address)
    queue_id = hashlib.sha1(f"{issue} {address}".encode()).hexdigest()[:11].upper()
    return (POSTFIX_DSN.read_bytes()
            .replace(b"4B7F71C0A3B", queue_id.encode())
            .replace(b"bounces+goik6llguu6hnmid@example.org", verp.encode())
            .replace(b"nobody-here@example.net", address.encode())
            .replace(b"<2018-03-iom-turkey.", f"<{issue}.".encode()))


def feedback(issue: str) -> dict:
    code, out = mailer("status", f"issues/{issue}.yaml", "--json")
    assert code == 0, out
    return json.loads(out[out.index("{"):out.rindex("}") + 1])["feedback"]


def test_an_address_that_bounced_two_issues_counts_for_each(project: Path) -> None:
    readers = write_subscribers(project / "subscribers.example.csv", 3)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    assert mailer("send", "issues/send-test-2.yaml", "--yes")[0] == 0
    box = mailbox.Maildir(project / "bounces", create=True)
    box.add(postfix_bounce("send-test", readers[1]))
    box.add(postfix_bounce("send-test-2", readers[1]))

    code, out = mailer("bounces", "--maildir", project / "bounces")
    assert code == 0, out
    assert "Read 2 messages: 2 bounces; 1 address newly suppressed." in out

    for issue in ("send-test", "send-test-2"):
        found = feedback(issue)
        assert found["bounced"]["addresses"] == 1, issue
        assert found["bounced"]["of_sent"] == 3


def test_an_unsubscribe_from_the_page_counts_for_its_issue(project: Path) -> None:
    write_subscribers(project / "subscribers.example.csv", 3)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    code, out = mailer("suppressions", "add", "reader2@example.org", "--reason", "unsubscribed")
    assert code == 0, out
    assert feedback("send-test")["unsubscribed"]["addresses"] == 0  # not from this issue

    from mailer.audience.project_store import store_for
    from mailer.settings import load_settings

    with store_for(load_settings(project / "mailer.toml")) as store:
        store.add("reader1@example.org", "unsubscribed", "one-click", issue="send-test")
    assert feedback("send-test")["unsubscribed"]["addresses"] == 1
    assert feedback("send-test-2")["unsubscribed"]["addresses"] == 0


def test_rates_say_what_they_divide_by_and_few_messages_warn_of_nothing(project: Path) -> None:
    readers = write_subscribers(project / "subscribers.example.csv", 10)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    box = mailbox.Maildir(project / "bounces", create=True)
    box.add(postfix_bounce("send-test", readers[3]))
    assert mailer("bounces", "--maildir", project / "bounces")[0] == 0

    code, out = mailer("status", "issues/send-test.yaml")
    assert code == 0, out
    assert "1 hard bounce (10.0% of 10 sent)" in out
    assert "Warning" not in out  # 10% of 10 messages is one reader: no rate is judged yet


def test_status_creates_and_changes_no_file(project: Path) -> None:
    write_subscribers(project / "subscribers.example.csv", 2)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    store = project / ".mailer" / "suppressions.sqlite3"
    for path in store.parent.glob("suppressions.sqlite3*"):
        path.unlink()

    def files() -> dict[str, bytes]:
        """Every file of the project with something in it, but SQLite's shared-memory index
        (a reader of a WAL database maps it; it holds no data)."""
        return {str(path): path.read_bytes() for path in project.rglob("*")
                if path.is_file() and path.stat().st_size and not path.name.endswith("-shm")}

    before = files()
    code, out = mailer("status", "issues/send-test.yaml", "--json")
    assert code == 0, out
    assert json.loads(out)["feedback"]["bounced"]["addresses"] == 0
    assert not store.exists()  # reporting made no store
    assert files() == before


def test_reports_for_a_spreadsheet_run_no_formula(project: Path, tmp_path: Path) -> None:
    path = project / "subscribers.example.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name"])
        writer.writerow(["a@example.org", '=HYPERLINK("https://evil.example.com","x")'])
        writer.writerow(["b@example.org", "@cmd|' /C calc'!A0"])
        writer.writerow(["c@example.org", "+1 555 0100"])
        writer.writerow(["d@example.org", "-2"])
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    code, out = mailer("status", "issues/send-test.yaml", "--csv", tmp_path / "report.csv")
    assert code == 0, out
    with open(tmp_path / "report.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    names = [row["name"] for row in rows]
    assert names == ["'=HYPERLINK(\"https://evil.example.com\",\"x\")", "'@cmd|' /C calc'!A0",
                     "'+1 555 0100", "'-2"]
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r"))
                       for value in row.values())

    assert mailer("suppressions", "add", "e@example.org", "--note", "=1+1")[0] == 0
    code, out = mailer("suppressions", "export", "--out", tmp_path / "export.csv")
    assert code == 0, out
    exported = (tmp_path / "export.csv").read_text(encoding="utf-8")
    assert ",'=1+1," in exported and ",=1+1," not in exported
    # and it reads back as it was
    other = tmp_path / "other"
    other.mkdir()
    (other / "mailer.toml").write_text((project / "mailer.toml").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    code, out = mailer("suppressions", "import", tmp_path / "export.csv",
                       "--settings", other / "mailer.toml")
    assert code == 0, out
    with sqlite3.connect(other / ".mailer" / "suppressions.sqlite3") as db:
        assert db.execute("SELECT detail FROM suppressions").fetchall() == [("=1+1",)]


def test_a_rate_over_the_limits_warns_from_a_hundred_messages_sent(tmp_path: Path) -> None:
    from mailer.delivery.ledger import Counts
    from mailer.delivery.status import StatusReport

    def report(sent: int, complaints: int, bounces: int) -> StatusReport:
        return StatusReport("x", tmp_path / "ledger", Counts(sent=sent), [], 0,
                            feedback={"complained": complaints, "bounced": bounces})

    assert report(99, 5, 50).warnings() == []
    (complaints, bounces) = report(100, 1, 3).warnings()
    assert complaints.startswith("complaints are at 1.00% of the 100 messages sent")
    assert bounces.startswith("hard bounces are at 3.00% of the 100 messages sent")
    assert report(2000, 2, 40).warnings() == []  # 0.1% and 2% are within the limits
