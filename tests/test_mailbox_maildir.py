"""The bounce mailbox as a Maildir: what is listed, that reading changes nothing, and that only
handled messages move, to the Maildir++ folder .processed."""

from __future__ import annotations

import itertools
import mailbox
import os
import time
from pathlib import Path

import pytest
from bounces import FIXTURES, judge, run_once

from mailer.audience.events import FeedbackEvent
from mailer.errors import MailboxError
from mailer.feedback.mailbox.maildir import open_maildir

BOUNCE = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes()
REPLY = (FIXTURES / "reader-reply.eml").read_bytes()
COUNTER = itertools.count()


def deliver(root: Path, data: bytes, subdir: str = "new", flags: str = "") -> str:
    """Put ``data`` into the Maildir at ``root`` as an MTA does (tmp/, then new/ under a unique
    name) or as a mail client leaves it (cur/, with ``:2,FLAGS``); returns its key."""
    key = f"{int(time.time())}.M{next(COUNTER):06d}P{os.getpid()}.mx.example.org"
    (root / "tmp" / key).write_bytes(data)
    name = key if subdir == "new" else f"{key}:2,{flags}"
    os.rename(root / "tmp" / key, root / subdir / name)
    return key


def files(root: Path) -> dict[str, tuple[int, float]]:
    """Every message file under ``root`` (folders too), with its size and mtime."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.parent.name in ("new", "cur"):
            found[str(path.relative_to(root))] = (path.stat().st_size, path.stat().st_mtime)
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "Maildir"
    mailbox.Maildir(path, create=True)
    return path


def test_new_and_cur_are_listed_not_folders_nor_trashed_ones(root: Path) -> None:
    fresh = deliver(root, BOUNCE)
    opened = deliver(root, REPLY, "cur", "S")
    deliver(root, REPLY, "cur", "ST")  # trashed by a mail client: on its way out
    mailbox.Maildir(root).add_folder("processed").add(BOUNCE)
    with open_maildir(root) as box:
        assert sorted(box.waiting()) == sorted([fresh, opened])
        assert box.fetch(fresh) == BOUNCE
        assert box.fetch(opened) == REPLY


def test_reading_changes_nothing(root: Path) -> None:
    key = deliver(root, REPLY)
    before = files(root)
    with open_maildir(root) as box:
        box.waiting()
        box.fetch(key)
    assert files(root) == before  # still in new/: not even "seen"


def test_a_handled_message_moves_to_processed_with_its_name_and_flags(root: Path) -> None:
    key = deliver(root, BOUNCE, "cur", "S")
    [name] = os.listdir(root / "cur")
    with open_maildir(root) as box:
        box.move_to_processed(key)
        assert box.waiting() == []
    assert (root / ".processed" / "maildirfolder").is_file()  # Maildir++: Dovecot shows it
    assert (root / ".processed" / "cur" / name).read_bytes() == BOUNCE
    assert os.listdir(root / "cur") == []


def test_a_message_a_client_moved_from_new_to_cur_is_still_found(root: Path) -> None:
    key = deliver(root, BOUNCE)
    with open_maildir(root) as box:
        assert box.waiting() == [key]
        os.rename(root / "new" / key, root / "cur" / f"{key}:2,S")  # a mail client opened it
        assert box.fetch(key) == BOUNCE
        box.move_to_processed(key)
    assert os.listdir(root / ".processed" / "cur") == [f"{key}:2,S"]


def test_a_message_gone_meanwhile_is_none_and_moving_it_is_harmless(root: Path) -> None:
    key = deliver(root, BOUNCE)
    with open_maildir(root) as box:
        box.waiting()
        (root / "new" / key).unlink()
        assert box.fetch(key) is None
        box.move_to_processed(key)
    assert not (root / ".processed").exists()


def test_the_command_moves_what_it_handled_and_leaves_the_rest_as_it_was(root: Path) -> None:
    handled = {deliver(root, (FIXTURES / name).read_bytes()): name for name in (
        "postfix-5.1.1-user-unknown.eml", "yahoo-arf-abuse.eml", "gmail-vacation-auto-reply.eml",
        "unsubscribe-mailto.eml",
    )}
    unknown = {deliver(root, (FIXTURES / name).read_bytes()): name for name in (
        "reader-reply.eml", "postfix-backscatter.eml",
    )}
    left = {path: stat for path, stat in files(root).items()
            if any(key in path for key in unknown)}
    store: dict[str, FeedbackEvent] = {}
    with open_maildir(root) as box:
        kinds = run_once(box, store)
    assert {kinds[key] for key in handled} == {"bounce", "complaint", "auto_reply", "unsubscribe"}
    assert {kinds[key] for key in unknown} == {"unknown"}
    assert sorted(e.kind for e in store.values()) == ["bounced", "complained", "unsubscribed"]
    assert {path: stat for path, stat in files(root).items() if not path.startswith(".")} == left
    assert len(os.listdir(root / ".processed" / "new")) == len(handled)
    with open_maildir(root) as box:  # the next run sees only what is left, and changes nothing
        assert run_once(box, store) == dict.fromkeys(unknown, "unknown")
    assert len(store) == 3


def test_a_crash_between_recording_and_moving_records_nothing_twice(root: Path) -> None:
    deliver(root, BOUNCE)
    store: dict[str, FeedbackEvent] = {}
    with open_maildir(root) as box:
        key = box.waiting()[0]
        data = box.fetch(key)
        assert data is not None
        for event in judge(data).events:
            store.setdefault(event.event_id, event)
        # ... the process dies here, before move_to_processed
    with open_maildir(root) as box:
        assert run_once(box, store) == {key: "bounce"}
    assert len(store) == 1
    assert os.listdir(root / "new") == []


def test_a_folder_that_is_not_a_maildir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match=r"is not a Maildir \(it has no new, cur, tmp folder\)"):
        open_maildir(tmp_path)
