"""Helpers for the delivery tests: a small issue, subscribers, and an SMTP server on loopback."""

from __future__ import annotations

import asyncio
import csv
import email
import random
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from projects import new_project

from mailer.audience.subscribers import Subscriber
from mailer.compose.issue import load
from mailer.delivery.message import MessageFactory, OutgoingMessage
from mailer.delivery.prepare import prepare

ISSUE = """
id: send-test
subject: News for {{ subscriber.first_name | default("friend") }}
period: "March 2026"
lead:
  title: Lead story
  image: {src: assets/photo.png, alt: "A photo"}
  body: |
    Dear {{ subscriber.first_name | default("friend") }}, the news.
    .A line that starts with a dot.
sections:
  - title: Highlights
    items:
      - title: An item
        body: Item body.
"""


def make_project(root: Path) -> Path:
    """A newsletter project in ``root`` with one small issue (small images keep sends fast)."""
    return new_project(root, photo_size=(60, 40)).write_issue(ISSUE, "send-test.yaml")


def make_bounce_project(root: Path) -> Path:
    """:func:`make_project` with a bounce mailbox, ``[bounces] address``: sends use VERP."""
    issue = make_project(root)
    settings = root / "mailer.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + '\n[bounces]\naddress = "bounces@example.org"\n',
        encoding="utf-8",
    )
    return issue


def write_subscribers(path: Path, count: int, *, start: int = 0) -> list[str]:
    """``count`` subscribers ``reader<n>@example.org``; names include a comma and markup."""
    addresses = []
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "first_name", "last_name"])
        for n in range(start, start + count):
            address = f"reader{n}@example.org"
            first = "Tom & <Jerry>" if n == start else f"Reader{n}"
            writer.writerow([address, f"{first}, Jr", first, "Jr"])
            addresses.append(address)
    return addresses


def factory_for(issue: Path) -> MessageFactory:
    return prepare(load(issue), real_send=False).factory


def build(factory: MessageFactory, addresses: Iterable[str]) -> list[OutgoingMessage]:
    return [factory.build(Subscriber(a, first_name=a.split("@")[0])) for a in addresses]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


@dataclass
class Faults:
    """What the fault-injecting handler does; rates are probabilities per transaction."""

    reject: set[str] = field(default_factory=set)  # 550 5.1.1 at RCPT
    refuse: set[str] = field(default_factory=set)  # 554 at DATA: failed, not a bounce
    temporary: float = 0.0  # 451 at DATA
    closing: float = 0.0  # 421 at MAIL, then the connection closes
    drop: float = 0.0  # the connection drops during DATA, before the message is accepted
    seed: int = 1


class Recorder:
    """An aiosmtpd handler that keeps every accepted message, and injects faults."""

    def __init__(self, faults: Faults | None = None, *, pipelining: bool = False) -> None:
        self.faults = faults or Faults()
        self.pipelining = pipelining
        self.messages: list[tuple[str, Message]] = []
        self.senders: list[str] = []  # the envelope sender (MAIL FROM) of each message kept
        self.greetings = 0  # the clients that said EHLO: every connection mailer makes
        self.lock = threading.Lock()
        self.random = random.Random(self.faults.seed)

    async def handle_EHLO(
        self, server, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd reads commands one by one anyway: it only has to say it pipelines."""
        session.host_name = hostname
        with self.lock:
            self.greetings += 1
        return [responses[0], "250-PIPELINING", *responses[1:]] if self.pipelining else responses

    async def handle_MAIL(
        self, server, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.random.random() < self.faults.closing:
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address in self.faults.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient in self.faults.refuse:
            return "554 5.7.1 Message refused by policy"
        if self.random.random() < self.faults.temporary:
            return "451 4.3.0 Try again later"
        if self.random.random() < self.faults.drop:
            server.transport.close()
            return "250 never heard"
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append((recipient, message))
            self.senders.append(envelope.mail_from)
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    def delivered(self) -> dict[str, list[str]]:
        """Recipient -> the Message-IDs it received (more than one means a repeat)."""
        result: dict[str, list[str]] = {}
        with self.lock:
            for recipient, message in self.messages:
                result.setdefault(recipient, []).append(message["Message-ID"])
        return result


class Busy(Recorder):
    """Answers 451 to one reader the first ``times`` times it is offered."""

    def __init__(self, reader: str, times: int, faults: Faults | None = None) -> None:
        super().__init__(faults)
        self.reader, self.left = reader, times

    async def handle_DATA(self, server, session, envelope) -> str:
        if envelope.rcpt_tos[0] == self.reader and self.left:
            self.left -= 1
            return "451 4.2.1 Mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


def smtp_server(
    handler: Recorder, *, tls: tuple[Path, Path] | None = None,
    users: dict[str, str] | None = None, **kwargs: object,
) -> Controller:
    """A started aiosmtpd server on 127.0.0.1 (stop it with ``.stop()``)."""
    import ssl

    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls))
        kwargs["tls_context"] = context
    if users is not None:
        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and users.get(
                auth_data.login.decode()
            ) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticate
        kwargs.setdefault("auth_require_tls", tls is not None)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def run_in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


class MiniSmtp(asyncio.Protocol):
    """An SMTP server offering PIPELINING and CHUNKING (BDAT), which aiosmtpd lacks."""

    def __init__(self, server: ChunkingServer) -> None:
        self.server = server
        self.buffer = b""
        self.rcpt: str | None = None
        self.need = 0  # bytes of a BDAT chunk still to read
        self.chunk = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 mini ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.need:
                taken, self.buffer = self.buffer[:self.need], self.buffer[self.need:]
                self.chunk += taken
                self.need -= len(taken)
                if not self.need:
                    self._message()
                continue
            if b"\r\n" not in self.buffer:
                return
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            self._command(line.decode())

    def _command(self, line: str) -> None:
        verb, _, argument = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self.transport.write(b"250-mini\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n")
        elif verb == "RCPT":
            address = argument.split("<", 1)[1].split(">", 1)[0]
            if address in self.server.reject:
                self.transport.write(b"550 5.1.1 User unknown\r\n")
            else:
                self.rcpt = address
                self.transport.write(b"250 OK\r\n")
        elif verb == "BDAT":
            self.need = int(argument.split()[0])
            if not self.need:
                self._message()
        elif verb == "QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        else:  # MAIL, RSET, NOOP; DATA is not offered by this server
            if verb == "RSET":
                self.rcpt = None
            self.transport.write(b"250 OK\r\n" if verb != "DATA" else b"502 use BDAT\r\n")

    def _message(self) -> None:
        if self.rcpt is None:
            self.transport.write(b"554 5.5.1 No valid recipients\r\n")
        else:
            self.server.messages.append((self.rcpt, self.chunk))
            self.transport.write(f"250 Ok: queued as B{len(self.server.messages)}\r\n".encode())
        self.rcpt, self.chunk = None, b""


class ChunkingServer:
    """:class:`MiniSmtp` on 127.0.0.1 in a thread; ``messages`` holds (recipient, bytes)."""

    def __init__(self, reject: Iterable[str] = ()) -> None:
        self.reject = set(reject)
        self.messages: list[tuple[str, bytes]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = run_in_thread(self.loop.run_forever)
        self.server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(lambda: MiniSmtp(self), "127.0.0.1", 0), self.loop
        ).result()
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
