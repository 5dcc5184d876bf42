"""``kill -9`` a real ``mailer send`` again and again, resume each time: nobody is lost, and
each kill repeats at most one message per connection, with the same Message-ID.

The bound comes from the runner recording each exchange before it hands over the next: after
a kill, the messages the server took but the ledger still has as ``sending`` are at most one
per connection (``--concurrency 4``: at most 4), and only those go out again on resume.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sending import Recorder, make_project, smtp_server, write_subscribers

from mailer.delivery.ledger import Ledger, Row
from mailer.delivery.transports.outbox import file_name

MAILER = [sys.executable, "-c", "from mailer.cli import main; main()"]
KILLS = 6
READERS = 1000  # far more than 6 kills reach (at most 60 each): no run ends before its kill
CONCURRENCY = 4


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    return make_project(tmp_path / "news")


def start_send(issue: Path, subscribers: Path, transport: str) -> subprocess.Popen:
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": "s" * 40}
    return subprocess.Popen(
        [*MAILER, "send", str(issue), "--yes", "--subscribers", str(subscribers),
         "--transport", transport, "--concurrency", str(CONCURRENCY)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def in_flight(ledger: Path, key: Callable[[Row], str]) -> set[str]:
    with Ledger(ledger, read_only=True, outcomes=True) as book:  # as status reads it
        return {key(row) for row in book.rows("send-test", ("sending",))}


class Server:
    """What a test can ask of the receiving end: a mark of now, and what it took since."""

    def mark(self) -> object:
        raise NotImplementedError

    def taken_since(self, mark: object) -> set[str]:
        """Messages accepted since ``mark`` (as the ledger's ``key`` names them)."""
        raise NotImplementedError


def kill_and_resume(
    issue: Path, subscribers: Path, transport: str, server: Server, key: Callable[[Row], str],
    kills: int = KILLS,
) -> list[set[str]]:
    """Kill the send ``kills`` times, each time after it had some more messages accepted;
    then let it finish. Returns, per kill, the messages that run had accepted and the ledger
    did not record: the only ones a resume sends again."""
    ledger = issue.parents[1] / ".mailer" / "ledger.sqlite3"
    chance = random.Random(9)
    unrecorded = []
    for _ in range(kills):
        mark = server.mark()
        target = chance.randint(5, 60)
        process = start_send(issue, subscribers, transport)
        deadline = time.monotonic() + 60
        while len(server.taken_since(mark)) < target and process.poll() is None:
            assert time.monotonic() < deadline, "the send made no progress"
            time.sleep(0.001)
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGKILL)
        process.wait()
        unrecorded.append(in_flight(ledger, key) & settled(server, mark))
    process = start_send(issue, subscribers, transport)
    out, err = process.communicate(timeout=600)  # only against a hang: a busy machine is slow
    assert process.returncode == 0, err
    assert "Resuming" in out
    return unrecorded


def settled(server: Server, mark: object) -> set[str]:
    """What ``server`` took since ``mark``, once it stops changing: a message the killed
    sender had sent whole may still be on its way through a busy server's threads."""
    taken = server.taken_since(mark)
    while True:
        time.sleep(0.3)
        again = server.taken_since(mark)
        if again == taken:
            return taken
        taken = again


class SmtpServer(Server):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def mark(self) -> int:
        return len(self.recorder.messages)

    def taken_since(self, mark: object) -> set[str]:
        with self.recorder.lock:
            return {recipient for recipient, _ in self.recorder.messages[mark:]}  # type: ignore[misc]


class Outbox(Server):
    """The Maildir's new/ folder: a file written since a mark is new or has a new inode."""

    def __init__(self, folder: Path) -> None:
        self.new = folder / "new"

    def files(self) -> dict[str, int]:
        """Each file's name and inode, as the directory lists them (no stat of each file: this
        is asked every millisecond while a send writes beside it)."""
        if not self.new.exists():
            return {}
        with os.scandir(self.new) as entries:
            return {entry.name: entry.inode() for entry in entries}

    def mark(self) -> dict[str, int]:
        return self.files()

    def taken_since(self, mark: object) -> set[str]:
        assert isinstance(mark, dict)
        return {name for name, inode in self.files().items() if mark.get(name) != inode}


@pytest.mark.slow
def test_kill_9_over_smtp_repeats_at_most_one_message_per_connection(issue, tmp_path) -> None:
    addresses = write_subscribers(tmp_path / "subscribers.csv", READERS)
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        unrecorded = kill_and_resume(
            issue, tmp_path / "subscribers.csv", f"smtp://127.0.0.1:{server.port}",
            SmtpServer(recorder), key=lambda row: row.email,
        )
    finally:
        server.stop()
    delivered = recorder.delivered()
    assert set(delivered) == set(addresses)  # nobody lost
    assert any(unrecorded)  # the kills did catch messages in flight
    assert all(len(found) <= CONCURRENCY for found in unrecorded), [len(u) for u in unrecorded]
    repeats = sum(len(ids) - 1 for ids in delivered.values())
    assert repeats <= sum(len(found) for found in unrecorded)  # only the unrecorded go again
    assert all(len(set(ids)) == 1 for ids in delivered.values())  # with the same Message-ID


@pytest.mark.slow
def test_kill_9_into_the_outbox_rewrites_at_most_one_file_per_writer(issue, tmp_path) -> None:
    """The outbox names each file by its Message-ID, so a repeat rewrites the same file."""
    addresses = write_subscribers(tmp_path / "subscribers.csv", READERS)
    outbox = Outbox(tmp_path / "outbox")
    unrecorded = kill_and_resume(
        issue, tmp_path / "subscribers.csv", f"outbox://{tmp_path / 'outbox'}", outbox,
        key=lambda row: file_name(row.message_id),
    )
    assert len(outbox.files()) == len(addresses)  # nobody lost, nobody twice in the Maildir
    assert all(len(found) <= CONCURRENCY for found in unrecorded), [len(u) for u in unrecorded]
    assert any(unrecorded)  # the kills did catch writes in flight
