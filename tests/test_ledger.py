"""The send ledger: filling, claiming, recording, resuming."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mailer.errors import DeliveryError
from mailer.ledger import Ledger, Outcome
from mailer.subscribers import Subscriber

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
    other = sqlite3.connect(ledger.path)
    assert other.execute("SELECT count(*) FROM deliveries WHERE state='sending'").fetchone() == (3,)
    ledger.record([
        Outcome(claimed[0].id, "sent", message_id="m0", provider_id="q0", response="250 ok"),
        Outcome(claimed[1].id, "failed", message_id="m1", reason="550 5.1.1 unknown"),
        Outcome(claimed[2].id, "deferred", reason="451 later", next_attempt_at=4e9),
    ])
    counts = ledger.counts(ISSUE)
    assert (counts.sent, counts.failed, counts.deferred, counts.queued) == (1, 1, 1, 2)
    assert [r.email for r in ledger.claim(ISSUE, 10)] == ["Reader3@example.org",
                                                         "Reader4@example.org"]
    assert ledger.next_due(ISSUE) == 4e9
    rows = {row["email"]: row for row in ledger.rows(ISSUE)}
    assert rows["Reader0@example.org"]["provider_id"] == "q0"
    assert rows["Reader1@example.org"]["reason"] == "550 5.1.1 unknown"
    assert rows["Reader2@example.org"]["attempts"] == 1


def test_a_resumed_fill_requeues_in_flight_rows_and_never_sent_ones(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(4))
    sent, in_flight = ledger.claim(ISSUE, 2)
    ledger.record([Outcome(sent.id, "sent", message_id="m")])
    resumed = ledger.fill(ISSUE, readers(4))
    assert resumed.resumed == 1
    claimed = [r.email for r in ledger.claim(ISSUE, 10)]
    assert in_flight.email in claimed and sent.email not in claimed


def test_readers_who_left_the_audience_are_not_sent(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(4))
    ledger.record([Outcome(ledger.claim(ISSUE, 1)[0].id, "sent")])
    result = ledger.fill(ISSUE, readers(2))  # 2 and 3 unsubscribed meanwhile
    assert result.left == 2
    failed = list(ledger.rows(ISSUE, ("failed",)))
    assert [r["email"] for r in failed] == ["Reader2@example.org", "Reader3@example.org"]
    assert "no longer in the audience" in failed[0]["reason"]


def test_rows_are_paged(ledger: Ledger) -> None:
    ledger.fill(ISSUE, readers(2345))
    assert sum(1 for _ in ledger.rows(ISSUE)) == 2345


def test_one_sender_per_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from mailer.ledger import Ledger;"
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
