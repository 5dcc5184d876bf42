"""The send ledger: filling, claiming, recording, resuming."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mailer.audience.subscribers import Subscriber
from mailer.delivery.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, Outcome
from mailer.delivery.status import status, write_report
from mailer.errors import DeliveryError, MailerError

ISSUE = "2026-03"


def readers(count: int, start: int = 0) -> list[Subscriber]:
    return [Subscriber(f"Reader{n}@example.org", first_name=f"R{n}") for n in range(start, count)]


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite3") as book:
        yield book


def test_the_ledger_is_sqlite_in_wal_mode(ledger: Ledger) -> None:
    mode = sqlite3.connect(ledger.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_fill_is_idempotent_and_case_blind(ledger: Ledger) -> None:
    first = ledger.fill(ISSUE, readers(2500))
    again = ledger.fill(ISSUE, [*readers(2500), Subscriber("READER1@example.org")])
    assert (first.added, first.total) == (2500, 2500)
    assert (again.added, again.total, again.left) == (0, 2500, 0)
    assert ledger.counts(ISSUE).queued == 2500
    assert ledger.counts("another-issue").total == 0


def test_claim_marks_rows_sending_and_record_finishes_them(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(5))
    claimed = ledger.claim(ISSUE, 3)
    assert [r.email for r in claimed] == [f"Reader{n}@example.org" for n in range(3)]
    assert claimed[0].merge_data()["first_name"] == "R0"
    # Committed before any transport sees them: another connection sees "sending".
    with Ledger(ledger.path, read_only=True) as other:
        assert other.counts(ISSUE).sending == 3
    ledger.record([
        Outcome(claimed[0].id, "sent", provider_id="q0"),
        Outcome(claimed[1].id, "failed", reason="550 5.1.1 unknown"),
        Outcome(claimed[2].id, "deferred", reason="451 later", next_attempt_at=4e9),
    ])
    counts = ledger.counts(ISSUE)
    assert (counts.sent, counts.failed, counts.deferred, counts.queued) == (1, 1, 1, 2)
    assert [r.email for r in ledger.claim(ISSUE, 10)] == ["Reader3@example.org",
                                                         "Reader4@example.org"]
    assert ledger.next_due(ISSUE) == 4e9
    rows = {row.email: row for row in ledger.rows(ISSUE)}
    assert rows["Reader0@example.org"].provider_id == "q0"
    assert rows["Reader1@example.org"].reason == "550 5.1.1 unknown"
    assert rows["Reader2@example.org"].attempts == 1


def test_a_resumed_fill_requeues_in_flight_rows_and_never_sent_ones(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(4))
    sent, in_flight = ledger.claim(ISSUE, 2)
    ledger.record([Outcome(sent.id, "sent")])
    resumed = ledger.fill(ISSUE, readers(4))
    assert resumed.resumed == 1
    claimed = [r.email for r in ledger.claim(ISSUE, 10)]
    assert in_flight.email in claimed and sent.email not in claimed


def test_readers_missing_from_a_fill_are_held_for_a_later_one(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(5))
    sent, deferred = ledger.claim(ISSUE, 2)
    ledger.record([Outcome(sent.id, "sent"), Outcome(deferred.id, "deferred", next_attempt_at=1)])
    smaller = ledger.fill(ISSUE, readers(3)[::2])  # a partial CSV: Reader0 and Reader2
    assert smaller.left == 3  # Reader1 (deferred), Reader3, Reader4: not sent this time ...
    assert [r.email for r in ledger.claim(ISSUE, 10, now=2)] == ["Reader2@example.org"]
    assert ledger.next_due(ISSUE) is None  # ... nor waited for
    assert ledger.counts(ISSUE).failed == 0  # ... nor dropped
    full = ledger.fill(ISSUE, readers(5))
    assert full.left == 0
    assert [r.email for r in ledger.claim(ISSUE, 10, now=2)] == [
        "Reader1@example.org", "Reader2@example.org", "Reader3@example.org", "Reader4@example.org"
    ]  # Reader2 was left in flight, so it goes again; Reader0 was sent


def test_rows_are_paged(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(2345))
    assert sum(1 for _ in ledger.rows(ISSUE)) == 2345


def test_one_sender_per_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from mailer.delivery.ledger import Ledger;"
         f"l = Ledger(Path({str(path)!r})); l.lock_for_sending(); print('locked', flush=True);"
         "time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Ledger(path) as ledger, pytest.raises(DeliveryError, match="another mailer send"):
            ledger.lock_for_sending()
    finally:
        holder.kill()
        holder.wait()
    with Ledger(path) as ledger:
        ledger.lock_for_sending()  # a killed sender leaves no stale lock


def test_a_killed_sender_loses_no_outcome_and_status_sees_them_meanwhile(tmp_path: Path) -> None:
    """While sending, outcomes go to a journal beside the ledger (one write each, which the
    OS keeps when the process is killed); status reads it without writing, the next send
    folds it in, and folding a line twice changes nothing."""
    path = tmp_path / "ledger.sqlite3"
    journal = tmp_path / "ledger.sqlite3-outcomes"
    sender = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from pathlib import Path; from mailer.delivery.ledger import Ledger, "
         "Outcome; from mailer.audience.subscribers import Subscriber;"
         f"l = Ledger(Path({str(path)!r})); l.lock_for_sending();"
         f"l.fill({ISSUE!r}, [Subscriber(f'r{{n}}@example.org') for n in range(5)]);"
         f"rows = l.claim({ISSUE!r}, 3);"
         "[l.record([Outcome(row.id, 'sent', provider_id=f'q{row.id}')]) for row in rows[:2]];"
         "print('recorded', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert sender.stdout.readline().strip() == "recorded"
        on_disk = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        assert on_disk.execute("SELECT count(*) FROM recipients WHERE state = 2").fetchone() == (3,)
        on_disk.close()
        before = journal.read_bytes()
        report = status(path, ISSUE)
        assert (report.counts.sent, report.counts.sending, report.counts.queued) == (2, 1, 2)
        assert journal.read_bytes() == before  # read, not folded: status writes nothing
    finally:
        sender.kill()  # kill -9: no chance to fold the journal
        sender.wait()
    assert journal.read_bytes() == before
    with Ledger(path) as book:
        book.lock_for_sending()
        filled = book.fill(ISSUE, [Subscriber(f"r{n}@example.org") for n in range(5)])
        assert filled.resumed == 1  # the one in flight, and only it, goes again
        counts = book.counts(ISSUE)
        assert (counts.sent, counts.queued) == (2, 3)
    assert not journal.exists()
    journal.write_bytes(before)  # as if killed after a fold's commit, before emptying it
    with Ledger(path) as book:
        book.lock_for_sending()
        assert book.counts(ISSUE).sent == 2
        sent = [row for row in book.rows(ISSUE) if row.state == "sent"]
        assert [(row.attempts, row.provider_id) for row in sent] == [(1, "q1"), (1, "q2")]


def test_a_journal_record_cut_short_by_a_full_disk_costs_no_other_outcome(
    tmp_path: Path
) -> None:
    """A write the disk took only part of (and the send stops) must not glue itself to the
    next record another sending thread writes: that outcome would be lost, and its reader sent
    again on resume."""
    path = tmp_path / "ledger.sqlite3"
    journal = tmp_path / "ledger.sqlite3-outcomes"
    with Ledger(path) as book:
        book.lock_for_sending()
        book.fill(ISSUE, [Subscriber(f"r{n}@example.org") for n in range(3)])
        first, second, _ = book.claim(ISSUE, 3)
        book.record([Outcome(first.id, "sent", provider_id="q1")])
        whole = journal.read_bytes()
        with journal.open("ab") as cut:  # what a short write leaves: a record's first half
            cut.write(whole[: len(whole) // 2])
        book.record([Outcome(second.id, "sent", provider_id="q2")])
        assert status(path, ISSUE).counts.sent == 2  # read as the next send will fold it
    with Ledger(path) as book:
        assert {row.provider_id for row in book.rows(ISSUE) if row.state == "sent"} == {
            "q1", "q2"}


# -- mailer status ----------------------------------------------------------------------------


def test_status_reads_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "sends #1?" / "ledger.sqlite3"  # characters a file: URI must quote
    with Ledger(path) as book:
        book.fill(ISSUE, readers(3))
    path.chmod(0o444)  # status works on a ledger it may not write (a copy, a backup)
    before = path.read_bytes()
    report = status(path, ISSUE)
    assert (report.counts.queued, report.counts.total) == (3, 3)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", ["table", "empty", "text"])
def test_status_refuses_a_file_that_is_not_a_ledger(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.db"
    if content == "table":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE notes (body TEXT)")
    else:
        path.write_text("" if content == "empty" else "hello, not a database\n")
    before = path.read_bytes()
    with pytest.raises(MailerError, match=r"other\.db is not a mailer send ledger"):
        status(path, ISSUE)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_status_csv_to_a_missing_folder_or_a_folder_is_one_line(ledger: Ledger, tmp_path) -> None:
    ledger.fill(ISSUE, readers(2))
    missing = tmp_path / "no-such-folder" / "report.csv"
    with pytest.raises(MailerError, match=f"cannot write {missing}: No such file or directory"):
        write_report(ledger.path, ISSUE, missing)
    with pytest.raises(MailerError, match=f"cannot write {tmp_path}: Is a directory"):
        write_report(ledger.path, ISSUE, tmp_path)
    assert write_report(ledger.path, ISSUE, tmp_path / "report.csv") == 2


def test_a_ledger_from_before_schema_versions_is_migrated_and_keeps_its_rows(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the schema of the first release, without a version
        MIGRATIONS[0](db)
        db.executemany(
            "INSERT INTO deliveries (issue_id, address, email, merge_data, state, message_id, "
            "provider_id, reason, updated_at) VALUES ('news', ?, ?, ?, ?, ?, ?, ?, 0)",
            [("a@example.org", "A@example.org", '{"first_name": "Ayşe"}', "sent",
              "news.0123@iom.int", "Q1", None),
             ("b@example.org", "b@example.org", "{}", "failed", None, None, "550 5.1.1 unknown"),
             ("c@example.org", "c@example.org", "{}", "queued", None, None, None)],
        )
    report = status(path, "news")  # read-only readers upgrade it too
    assert (report.counts.sent, report.counts.failed, report.counts.queued) == (1, 1, 1)
    assert report.commits == []  # sent before [send] require = "committed" recorded any
    assert [f.reason for f in report.failures] == ["550 5.1.1 unknown"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with Ledger(path) as ledger:
        first = next(ledger.rows("news"))
        assert (first.email, first.provider_id) == ("A@example.org", "Q1")
        assert first.message_id.startswith("news.") and first.message_id.endswith("@iom.int")
        ledger.fill("news", [Subscriber(e) for e in ("a@example.org", "c@example.org")])
        (claimed,) = ledger.claim("news", 10)  # the queued one; sent and failed stay done
        assert claimed.email == "c@example.org"
        assert claimed.edition is None  # rows from before editions: the default edition


def test_a_row_keeps_the_commit_it_was_sent_from(tmp_path) -> None:
    reviewed, revised = "a" * 40, "b" * 40
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.fill(ISSUE, readers(2), commit=reviewed)
        first, _ = ledger.claim(ISSUE, 10)
        ledger.record([Outcome(first.id, "sent")])  # the other was in flight when it stopped
        assert ledger.commits(ISSUE) == [reviewed]
        ledger.fill(ISSUE, readers(2), commit=revised)  # resumed after another commit
        assert ledger.commits(ISSUE) == [reviewed, revised]
        ledger.fill(ISSUE, readers(2))  # and once without the setting: no commit to name
        assert ledger.commits(ISSUE) == [reviewed]


def test_a_ledger_from_a_newer_mailer_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "new.sqlite3"
    with Ledger(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    for opened in (lambda: Ledger(path), lambda: Ledger(path, read_only=True)):
        with pytest.raises(MailerError, match="written by a newer mailer"):
            opened()
    assert path.read_bytes() == before


def test_a_row_keeps_the_edition_it_was_first_queued_with(tmp_path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        readers = [Subscriber("a@example.org", language="tr"), Subscriber("b@example.org")]
        ledger.fill(ISSUE, readers, edition_of=lambda r: r.language or None)
        ledger.fill(ISSUE, readers, edition_of=lambda r: "ar")  # a resume routes them anew
        claimed = {row.email: row.edition for row in ledger.claim(ISSUE, 10)}
        assert claimed == {"a@example.org": "tr", "b@example.org": None}
        by_edition = ledger.counts_by_edition(ISSUE)
        assert {tag: counts.sending for tag, counts in by_edition.items()} == {"tr": 1, None: 1}


def test_first_sent_is_the_earliest_sent_row_and_stays(ledger: Ledger, monkeypatch) -> None:
    assert ledger.first_sent(ISSUE) is None  # never filled
    ledger.fill(ISSUE, readers(3))
    one, two, three = ledger.claim(ISSUE, 3)
    ledger.record([Outcome(one.id, "failed", reason="550 5.1.1 unknown")])
    assert ledger.first_sent(ISSUE) is None  # nobody got it yet
    monkeypatch.setattr("time.time", lambda: 1_700_000_000.0)
    ledger.record([Outcome(two.id, "sent")])
    monkeypatch.setattr("time.time", lambda: 1_700_000_900.0)
    ledger.record([Outcome(three.id, "sent")])
    assert ledger.first_sent(ISSUE) == 1_700_000_000
    assert ledger.first_sent("another-issue") is None
