"""The bounce mailbox on a real IMAP server (Debian's Dovecot, started privately on loopback):
listing, fetching without marking read, moving only handled messages to processed, with MOVE and
without it, and the connection's safety rules."""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from bounces import FIXTURES, run_once
from dovecot import Dovecot, missing, running_dovecot

from mailer.audience.events import FeedbackEvent
from mailer.errors import MailboxError, Unreachable
from mailer.feedback.mailbox import imap
from mailer.feedback.mailbox.imap import ImapMailbox, open_imap, parse_imap_url

WHY_NOT = missing()
needs_dovecot = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
pytestmark = pytest.mark.xdist_group("dovecot")  # one worker starts the module's Dovecot, once

BOUNCE = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes()
REPLY = (FIXTURES / "reader-reply.eml").read_bytes()


def crlf(data: bytes) -> bytes:
    """How an IMAP server hands back a message appended with LF line ends."""
    return re.sub(rb"\r?\n", b"\r\n", data)


class Admin:
    """A second, plain imaplib session: what another mail client sees and does."""

    def __init__(self, server: Dovecot) -> None:
        context = ssl.create_default_context(cafile=str(server.cafile))
        self.connection = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=context)
        self.connection.login(server.user, server.password)

    def append(self, data: bytes, flags: str = "") -> str:
        """Deliver ``data`` to INBOX with ``flags``; its UID."""
        typ, said = self.connection.append("INBOX", f"({flags})" if flags else None, None, data)
        assert typ == "OK", said
        found = re.search(rb"APPENDUID \d+ (\d+)", said[0])
        assert found, said
        return found.group(1).decode()

    def flags(self, folder: str = "INBOX") -> dict[str, set[str]]:
        """UID -> flags of every message in ``folder`` (read-only: changes nothing)."""
        typ, _ = self.connection.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return {}
        typ, data = self.connection.uid("FETCH", "1:*", "(FLAGS)")
        found = {}
        for item in data:
            uid = re.search(rb"UID (\d+)", item) if isinstance(item, bytes) else None
            flags = re.search(rb"FLAGS \(([^)]*)\)", item) if uid else None
            if uid and flags:
                found[uid.group(1).decode()] = set(flags.group(1).decode().split()) - {
                    r"\Recent"  # this session's own: says nothing about the message
                }
        return found

    def empty(self) -> None:
        """Every message out of INBOX, and the processed folder gone."""
        _, [count] = self.connection.select("INBOX")
        if int(count or 0):
            self.connection.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            self.connection.expunge()
        self.connection.delete("processed")  # NO when there is none: fine

    def close(self) -> None:
        self.connection.logout()


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    with running_dovecot() as running:
        yield running


@pytest.fixture
def admin(server: Dovecot) -> Iterator[Admin]:
    other = Admin(server)
    other.empty()
    yield other
    other.close()


@pytest.fixture
def box(server: Dovecot, admin: Admin) -> Iterator[ImapMailbox]:
    with open_imap(server.url("imaps", "INBOX") + f"?cafile={server.cafile}",
                   server.password) as opened:
        yield opened


# --- reading --------------------------------------------------------------------------------


@needs_dovecot
def test_every_message_is_waiting_read_or_not_but_not_those_flagged_deleted(
    box: ImapMailbox, admin: Admin
) -> None:
    fresh = admin.append(BOUNCE)
    opened = admin.append(REPLY, r"\Seen")
    admin.append(REPLY, r"\Deleted")  # another client's, on its way out
    assert box.waiting() == [fresh, opened]


@needs_dovecot
def test_fetching_gives_the_exact_message_and_leaves_it_unread(
    box: ImapMailbox, admin: Admin
) -> None:
    uid = admin.append(BOUNCE)
    assert box.waiting() == [uid]
    assert box.fetch(uid) == crlf(BOUNCE)
    assert admin.flags() == {uid: set()}
    assert box.fetch("999") is None  # gone: expunged by someone else


# --- moving -------------------------------------------------------------------------------------


@needs_dovecot
def test_a_handled_message_moves_to_processed_created_on_the_way(
    box: ImapMailbox, admin: Admin
) -> None:
    assert "MOVE" in box.capabilities
    uid = admin.append(BOUNCE)
    assert uid in box.waiting()
    box.move_to_processed(uid)
    assert box.waiting() == []
    assert list(admin.flags("processed").values()) == [set()]  # still unread there
    assert admin.flags() == {}


@needs_dovecot
def test_without_move_it_is_copied_and_only_its_own_uid_expunged(
    box: ImapMailbox, admin: Admin
) -> None:
    box.capabilities = box.capabilities - {"MOVE"}
    someone_elses = admin.append(REPLY, r"\Deleted")
    uid = admin.append(BOUNCE)
    assert uid in box.waiting()
    box.move_to_processed(uid)
    assert admin.flags() == {someone_elses: {r"\Deleted"}}  # not expunged with ours
    assert len(admin.flags("processed")) == 1


@needs_dovecot
def test_without_uidplus_the_original_is_left_flagged_deleted_and_no_longer_waiting(
    box: ImapMailbox, admin: Admin
) -> None:
    box.capabilities = box.capabilities - {"MOVE", "UIDPLUS"}
    someone_elses = admin.append(REPLY, r"\Deleted")
    uid = admin.append(BOUNCE)
    assert uid in box.waiting()
    box.move_to_processed(uid)
    assert admin.flags() == {someone_elses: {r"\Deleted"}, uid: {r"\Deleted"}}
    assert box.waiting() == []
    assert len(admin.flags("processed")) == 1


@needs_dovecot
def test_the_command_moves_what_it_handled_and_leaves_the_rest_unread(
    server: Dovecot, box: ImapMailbox, admin: Admin
) -> None:
    handled = [admin.append((FIXTURES / name).read_bytes()) for name in (
        "gmail-address-not-found.eml", "microsoft-jmrp-abuse.eml", "exchange-automatic-reply.eml",
    )]
    unknown = [admin.append((FIXTURES / name).read_bytes()) for name in (
        "reader-reply.eml", "postfix-backscatter.eml",
    )]
    store: dict[str, FeedbackEvent] = {}
    kinds = run_once(box, store)
    assert [kinds[uid] for uid in handled] == ["bounce", "complaint", "auto_reply"]
    assert admin.flags() == {uid: set() for uid in unknown}  # there, unread, untouched
    assert len(admin.flags("processed")) == 3
    with open_imap(server.url("imaps") + f"?cafile={server.cafile}", server.password) as again:
        assert run_once(again, store) == dict.fromkeys(unknown, "unknown")
    assert sorted(event.kind for event in store.values()) == ["bounced", "complained"]


# --- connecting -----------------------------------------------------------------------------


@needs_dovecot
def test_imap_urls_switch_to_tls_with_starttls(server: Dovecot, admin: Admin) -> None:
    with open_imap(server.url("imap") + f"?cafile={server.cafile}", server.password) as box:
        assert isinstance(box.connection.sock, ssl.SSLSocket)
        assert box.waiting() == []


@needs_dovecot
def test_an_untrusted_certificate_is_refused(server: Dovecot) -> None:
    with pytest.raises(MailboxError, match=r"certificate is not trusted .*\?cafile=PATH"):
        open_imap(server.url("imaps"), server.password)


@needs_dovecot
def test_a_missing_folder_is_named(server: Dovecot) -> None:
    with pytest.raises(MailboxError, match="no folder 'Bounces'"):
        open_imap(server.url("imaps", "Bounces") + f"?cafile={server.cafile}", server.password)


# Last of the server's tests: Dovecot makes the next logins from 127.0.0.1 wait after one fails.
@needs_dovecot
def test_a_refused_login_names_the_user_and_never_the_password(server: Dovecot) -> None:
    with pytest.raises(MailboxError, match=r"the login as bounces@example\.org was refused") as err:
        open_imap(server.url("imaps") + f"?cafile={server.cafile}", "wrong-password-123")
    assert "wrong-password-123" not in str(err.value)


def test_a_server_that_cannot_be_reached_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens on it
    with pytest.raises(Unreachable, match=f"127.0.0.1:{port}/INBOX cannot be reached"):
        open_imap(f"imaps://u@127.0.0.1:{port}/INBOX", "pw", timeout=5)


@pytest.fixture
def plaintext_server() -> Iterator[int]:
    """An IMAP server that offers no STARTTLS and refuses every login."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection, connection.makefile("rwb") as stream:
            stream.write(b"* OK ready\r\n")
            stream.flush()
            for line in stream:
                tag, command = line.split()[:2]
                if command.upper() == b"CAPABILITY":
                    stream.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                else:
                    stream.write(tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                stream.flush()

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                connection.settimeout(5)
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)


def test_plaintext_login_only_on_loopback_or_when_allowed(
    plaintext_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"imap://u@127.0.0.1:{plaintext_server}/INBOX"
    monkeypatch.setattr(imap, "is_loopback", lambda host: False)
    with pytest.raises(MailboxError, match="offers no STARTTLS: refusing to send the password"):
        open_imap(url, "secret-pw", timeout=5)
    monkeypatch.undo()
    with pytest.raises(MailboxError, match="was refused"):  # on loopback: it did try
        open_imap(url, "secret-pw", timeout=5)


# --- the URL ------------------------------------------------------------------------------


def test_the_url_gives_user_host_port_folder_and_ca() -> None:
    address = parse_imap_url("imaps://bounces%40example.org@mail.example.org/Bounces%20In"
                             "?cafile=/etc/ca.pem")
    assert (address.user, address.host, address.port, address.folder, str(address.cafile)) == (
        "bounces@example.org", "mail.example.org", 993, "Bounces In", "/etc/ca.pem"
    )
    assert parse_imap_url("imap://u@[::1]").port == 143
    assert parse_imap_url("imap://u@[::1]").folder == "INBOX"


@pytest.mark.parametrize(("url", "message"), [
    ("imaps://u:hunter2@mail.example.org/INBOX", "holds a password: give it in MAILER_IMAP"),
    ("https://u@mail.example.org/", "must start with imaps://"),
    ("imaps://mail.example.org/", "needs a user and a host"),
    ("imaps://u@mail.example.org/?ca=x", "unknown options: ca"),
    ("imaps://u@mail.example.org:99999/", "wrong port"),
    ("imaps://u@mail.example.org/Gelen%20Kutusu%C3%A7", "only folder names in ASCII"),
])
def test_a_wrong_url_is_refused(url: str, message: str) -> None:
    with pytest.raises(MailboxError, match=message) as err:
        parse_imap_url(url)
    assert "hunter2" not in str(err.value)
