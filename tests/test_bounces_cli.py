"""``mailer bounces`` end to end: send with a bounce address, let a DSN and a complaint come
back for two readers (with an auto-reply and a reader's reply beside them), read the mailbox
(a Maildir, and a real Dovecot over IMAP); ``mailer status`` shows both, the next send skips
them, and what was not understood is left untouched."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from dovecot import missing, running_dovecot
from projects import mailer
from sending import make_bounce_project, write_subscribers

from mailer.audience.verp import Verp

SECRET = "bounces-test-secret-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "mailbox"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_bounce_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    return tmp_path / "news"



def returned(fixture: str, token: str, reader: str, address: str) -> bytes:
    """A fixture as it would come back to this send: its VERP address and reader ours."""
    verp = Verp(SECRET, "bounces@example.org").envelope("send-test", address)
    text = (FIXTURES / fixture).read_bytes()
    return text.replace(f"bounces+{token}@example.org".encode(), verp.encode()).replace(
        reader.encode(), address.encode()
    )


def the_mail_that_came_back(addresses: list[str]) -> list[bytes]:
    return [
        returned("postfix-5.1.1-user-unknown.eml", "goik6llguu6hnmid",
                 "nobody-here@example.net", addresses[1]),
        returned("yahoo-arf-abuse.eml", "6cllqwfk4c25w2jr", "yahoo-reader@example.net",
                 addresses[4]),
        (FIXTURES / "gmail-vacation-auto-reply.eml").read_bytes(),
        (FIXTURES / "reader-reply.eml").read_bytes(),
    ]


def check_the_loop(project: Path, addresses: list[str]) -> None:
    code, out = mailer("status", "issues/send-test.yaml", "--json")
    feedback = json.loads(out.split("\nWarning")[0])["feedback"]
    assert feedback["bounced"]["addresses"] == 1 and feedback["complained"]["addresses"] == 1
    (project / "outbox").rename(project / "first-outbox")
    code, out = mailer("send", "issues/send-test.yaml", "--yes", "--ledger", "again.sqlite3")
    assert code == 0, out
    written = "".join(p.read_text() for p in (project / "outbox" / "new").iterdir())
    assert addresses[1] not in written and addresses[4] not in written
    assert addresses[0] in written and addresses[5] in written


def test_a_maildir_of_bounces_suppresses_and_leaves_the_rest_alone(project: Path) -> None:
    addresses = write_subscribers(project / "subscribers.example.csv", 6)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    box = mailbox.Maildir(project / "bounces", create=True)
    for data in the_mail_that_came_back(addresses):
        box.add(data)
    reply = next(key for key, message in box.items() if "Re:" in (message["Subject"] or ""))

    code, out = mailer("bounces", "--maildir", project / "bounces")
    assert code == 0, out
    assert "Read 4 messages: 1 bounces, 1 complaints, 1 auto-replies, 1 left unread" in out
    assert "2 addresses newly suppressed" in out
    assert list(mailbox.Maildir(project / "bounces", create=False).keys()) == [reply]
    processed = mailbox.Maildir(project / "bounces" / ".processed", create=False)
    assert len(processed) == 3
    code, again = mailer("bounces", "--maildir", project / "bounces")  # idempotent
    assert code == 0 and "Read 1 messages: 1 left unread; 0 addresses" in again
    check_the_loop(project, addresses)


@pytest.mark.skipif(missing() is not None, reason=str(missing()))
def test_an_imap_bounce_mailbox_on_a_real_dovecot(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = write_subscribers(project / "subscribers.example.csv", 6)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    with running_dovecot() as dovecot:
        inbox = mailbox.Maildir(dovecot.maildir, create=False)
        for data in the_mail_that_came_back(addresses):
            inbox.add(data)
        monkeypatch.setenv("MAILER_IMAP_PASSWORD", dovecot.password)
        url = dovecot.url("imaps") + f"?cafile={dovecot.cafile}"
        code, out = mailer("bounces", "--imap", url)
        assert code == 0, out
        assert "1 bounces, 1 complaints, 1 auto-replies, 1 left unread" in out
        assert dovecot.password not in out
        monkeypatch.setenv("MAILER_IMAP_PASSWORD", "wrong")
        code, out = mailer("bounces", "--imap", url)
        assert code == 2 and "wrong" not in out
    check_the_loop(project, addresses)


def test_a_mailbox_that_cannot_be_read_is_exit_2(project: Path, tmp_path: Path) -> None:
    code, out = mailer("bounces", "--maildir", tmp_path / "no-such-folder")
    assert code == 2 and "Error:" in out
    code, out = mailer("bounces")
    assert code == 2 and "--maildir PATH or --imap" in out


def test_a_large_mailbox_is_judged_on_every_core_with_the_same_verdicts(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailer.feedback import bounces

    monkeypatch.setattr(bounces, "PARALLEL_FROM", 2)  # 4 messages: two worker processes
    addresses = write_subscribers(project / "subscribers.example.csv", 6)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    box = mailbox.Maildir(project / "bounces", create=True)
    for data in the_mail_that_came_back(addresses):
        box.add(data)
    code, out = mailer("bounces", "--maildir", project / "bounces")
    assert code == 0, out
    assert "Read 4 messages: 1 bounces, 1 complaints, 1 auto-replies, 1 left unread" in out
    check_the_loop(project, addresses)
