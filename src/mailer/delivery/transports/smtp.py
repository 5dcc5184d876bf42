"""``smtp://[USER@]HOST[:PORT]`` and ``smtps://...``: one reused SMTP connection per transport.

The runner gives each of its worker threads its own transport, so ``--concurrency N`` means N
connections in parallel. A connection stays open for many messages and is reopened after a
drop; the message that was on the wire then is deferred, to be sent again later.

Security: STARTTLS is required for any host that is not loopback (``?tls=none`` turns it off,
for a relay on a private network); ``smtps://`` speaks TLS from the first byte (port 465).
Certificates are verified with the system's trust store, or with ``?cafile=PATH``. The password
comes only from ``MAILER_SMTP_PASSWORD``.

Reply codes become results: 2xx sent, 4xx deferred, 5xx failed; a 5.1.1-style "no such user"
is also marked ``bounce`` so that the address is suppressed. A refused, timed-out or dropped
connection is deferred too; an unknown host, a failed TLS handshake (wrong port for the TLS
mode, untrusted certificate) and a refused or impossible login stop the send
(:class:`TransportError`): retrying would not help. :meth:`SmtpTransport.verify` finds those
before a send starts.

Addresses: the envelope carries a domain as IDNA (``user@xn--bcher-kva.de``), as the message's
headers do. A non-ASCII local part would need SMTPUTF8 from every server on the way and UTF-8
headers (RFC 6531, 6532), which mailer does not write: the transport declares it cannot carry
one (``smtputf8``), so the audience leaves such a reader out as a wrong row before any
connection, and no transaction ever holds one.

Speed: the message goes as ``BDAT`` when the server offers CHUNKING (no dot-stuffing at all),
commands are pipelined when it offers PIPELINING, and otherwise dot-stuffing is our own: the
regular expression of ``smtplib.SMTP.data`` costs ten times more than building the message.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import ClassVar

from mailer.credentials import Needed, Redactor
from mailer.delivery.headers import envelope_address
from mailer.delivery.message import OutgoingMessage
from mailer.delivery.transports.base import Dsn, RecipientResult, Transport
from mailer.errors import TransportError, Unreachable
from mailer.fields import is_loopback

# What ``smtplib.SMTP.login`` can do (its ``preferred_auths``); AUTH PLAIN is ours (_login).
AUTH_METHODS = ("CRAM-MD5", "PLAIN", "LOGIN")
TLS_MODES = ("starttls", "none")
DEFAULT_TIMEOUT = 30.0
_EXPECTED = ((250,), (250, 251))  # the good replies to MAIL and RCPT
_LEADING_DOT = re.compile(rb"\n\.")
# Unknown-user replies: RFC 3463 enhanced codes X.1.1 (bad mailbox), X.1.2 (bad domain),
# X.1.10 (null MX); and the classic 550/551/553 "user unknown" texts of servers without them.
_NO_SUCH_USER = re.compile(
    rb"^5\.1\.(1|2|10)\b|user unknown|no such (user|mailbox)|mailbox unavailable|"
    rb"does not exist|unknown (user|recipient)|recipient rejected",
    re.I,
)


class SmtpTransport(Transport):
    name = "SMTP"
    max_batch = 20  # messages claimed per ledger round trip; each is recorded once accepted
    secret_variable: ClassVar[str] = "MAILER_SMTP_PASSWORD"
    options = ("tls", "cafile", "timeout", "helo")

    @classmethod
    def login(cls, dsn: Dsn) -> Needed | None:
        return Needed(cls.secret_variable, f"the SMTP login as {dsn.user}") if dsn.user else None

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        if not dsn.host:
            raise dsn.fail("name the server, e.g. smtp://mail.example.org:587")
        self.implicit_tls = dsn.scheme == "smtps"
        self.host = dsn.host
        self.port = dsn.port or (465 if self.implicit_tls else 587)
        tls = dsn.options.get("tls", "starttls").lower()
        if tls not in TLS_MODES:
            raise dsn.fail(f"tls={tls} is not one of {', '.join(TLS_MODES)}")
        if self.implicit_tls and tls == "none":
            raise dsn.fail("smtps:// is TLS from the first byte; tls=none contradicts it")
        # STARTTLS is required except on loopback, where it is used when offered.
        self.tls = tls
        self.require_starttls = tls == "starttls" and not is_loopback(self.host)
        cafile = dsn.options.get("cafile")
        self.cafile = (base_dir / cafile).resolve() if cafile else None
        if self.cafile is not None and not self.cafile.is_file():
            raise dsn.fail(f"cafile {self.cafile} does not exist")
        try:
            self.timeout = float(dsn.options.get("timeout", DEFAULT_TIMEOUT))
        except ValueError:
            raise dsn.fail("timeout must be a number of seconds") from None
        self.helo = dsn.options.get("helo") or None
        self.user = dsn.user
        self.password = secret
        self.redact = Redactor([secret])
        self._connection: smtplib.SMTP | None = None

    # -- connection -----------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cafile=str(self.cafile) if self.cafile else None
        )

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        """A logged-in connection; TransportError when the settings cannot work.

        Errors that may pass (refused, timed out, dropped, a 4xx greeting) propagate as they
        are, for :meth:`send` to defer the message.
        """
        connection: smtplib.SMTP | None = None
        try:
            if self.implicit_tls:
                connection = smtplib.SMTP_SSL(
                    self.host, self.port, local_hostname=self.helo, timeout=self.timeout,
                    context=self._tls_context(),
                )
            else:
                connection = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.helo, timeout=self.timeout
                )
            self._start(connection)
        except Exception as exc:
            if connection is not None:
                connection.close()
            problem = self._setup_problem(exc)
            if problem is None:
                raise
            raise TransportError("SMTP", f"{self._where}: {problem}") from None
        return connection

    def _start(self, connection: smtplib.SMTP) -> None:
        """EHLO, STARTTLS as configured, and the login."""
        connection.ehlo()
        if not self.implicit_tls and self.tls == "starttls":
            if connection.has_extn("starttls"):
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            elif self.require_starttls:
                raise TransportError(
                    "SMTP", f"{self._where} does not offer STARTTLS; refusing to send in clear "
                    "text (add ?tls=none only for a trusted relay on a private network)",
                )
        if self.user:
            self._login(connection)

    def _setup_problem(self, exc: Exception) -> str | None:
        """What is wrong with the settings, if ``exc`` says so (one line, no password)."""
        if isinstance(exc, ssl.SSLCertVerificationError):
            return (
                f"the certificate is not trusted ({exc.verify_message}); add ?cafile=PATH for "
                "a private CA"
            )
        if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return None  # the connection dropped during the handshake: worth a retry
        if isinstance(exc, ssl.SSLError):
            hint = (
                "smtps:// needs a port speaking TLS from the first byte (465); use smtp:// "
                "for STARTTLS (587)" if self.implicit_tls
                else "the server's TLS settings do not work with ours"
            )
            return f"TLS handshake failed ({exc.reason or exc}): {hint}"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve the host name {self.host!r} ({exc.strerror})"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (
                f"refused the login for {self.user}: {exc.smtp_code} {_text(exc.smtp_error)}"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return str(exc)
        return None

    def verify(self) -> None:
        """Connect, EHLO, STARTTLS and log in as a send would, then QUIT.

        Unlike :meth:`send`, which defers a message when the server is unreachable, any
        failure here stops the command before anything is sent: a TransportError when the
        settings cannot work (the host, the port, the password), Unreachable when the server
        cannot be reached or answers "try later" now.
        """
        try:
            connection = self._connect()
        except TransportError as exc:
            raise TransportError("SMTP", self.redact(exc.provider_message)) from None
        except smtplib.SMTPResponseException as exc:
            answer = self.redact(f"{self._where} answered {exc.smtp_code} {_text(exc.smtp_error)}")
            if 400 <= exc.smtp_code < 500:
                raise Unreachable(f"SMTP: {answer}; try again later") from None
            raise TransportError("SMTP", answer) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Unreachable(
                f"SMTP: cannot connect to {self._where}: {_describe(exc)}"
            ) from None
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.quit()
        connection.close()

    def _login(self, connection: smtplib.SMTP) -> None:
        """AUTH PLAIN when offered (one round trip, no fallback chain), else smtplib's choice.

        ``SMTP.login`` would, after a refused PLAIN, try LOGIN with an initial response that
        some servers (aiosmtpd among them) never answer, turning a wrong password into a hang.
        """
        if not connection.has_extn("auth"):
            raise TransportError("SMTP", f"{self._where} does not offer AUTH")
        offered = connection.esmtp_features["auth"].upper().split()
        if not set(offered) & set(AUTH_METHODS):
            raise TransportError(
                "SMTP", f"{self._where} offers AUTH {' '.join(offered)}; mailer can log in "
                f"with {', '.join(AUTH_METHODS)} only",
            )
        if "PLAIN" in offered:
            connection.user, connection.password = self.user or "", self.password or ""
            connection.auth("PLAIN", connection.auth_plain)
        else:
            connection.login(self.user or "", self.password or "")

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._drop()

    # -- sending ------------------------------------------------------------------------

    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        try:
            for message in messages:
                yield [self.scrub(self._deliver(message))]
        except TransportError as exc:
            raise TransportError("SMTP", self.redact(exc.provider_message)) from None

    def _deliver(self, message: OutgoingMessage) -> RecipientResult:
        try:
            if self._connection is None:
                self._connection = self._connect()
            return self._transaction(self._connection, message)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            # A drop, a timeout, a refused connection, a 421 on connect: all worth a retry.
            self._drop()
            return _deferred(message, _describe(exc))

    def _transaction(self, connection: smtplib.SMTP, message: OutgoingMessage) -> RecipientResult:
        """MAIL, RCPT and the message, in as few round trips as the server allows.

        With CHUNKING (RFC 3030) the message goes as ``BDAT <size> LAST`` and needs no
        dot-stuffing; with PIPELINING (RFC 2920) the commands go in one write, so a chunking,
        pipelining server (Postfix, Exim, the big providers) costs one round trip a message.
        """
        sender = envelope_address(message.envelope_sender)
        recipient = envelope_address(message.recipient)
        mail_from = f"MAIL FROM:<{sender}>"
        chunking = connection.has_extn("chunking")
        last = f"BDAT {len(message.data)} LAST" if chunking else "DATA"
        expected = (*_EXPECTED, (250,) if chunking else (354,))
        # Each write a list of pieces sent one after the other: a message of 150 KB is never
        # copied into a joined buffer (twice per message, that was most of the CPU it cost).
        writes = [
            [f"{command}\r\n".encode(connection.command_encoding)]
            for command in (mail_from, f"RCPT TO:<{recipient}>", last)
        ]
        if chunking:
            writes[-1].append(message.data)
        replies: list[tuple[int, bytes]] = []
        if connection.has_extn("pipelining"):
            _send(connection, [piece for write in writes for piece in write])
            replies = [connection.getreply() for _ in writes]
        else:
            for write, good in zip(writes, expected, strict=True):
                _send(connection, write)
                replies.append(connection.getreply())
                if replies[-1][0] not in good:
                    break
        checked = zip(replies, expected[: len(replies)], strict=True)
        failure = next((reply for reply, good in checked if reply[0] not in good), None)
        if failure is None:
            code, reply = replies[-1]
            if not chunking:
                connection.send(dot_stuffed(message.data))
                code, reply = connection.getreply()
            if code == 250:
                return RecipientResult(
                    message.recipient, message.message_id, "sent",
                    provider_id=_queue_id(reply), detail=f"{code} {_text(reply)}",
                )
            return _classify(message, code, reply)  # the server has reset the transaction
        if not chunking and len(replies) == len(writes) and replies[-1][0] == 354:
            connection.send(b".\r\n")  # RFC 2920: DATA went through without recipients
            connection.getreply()
        if failure[0] == 421:
            self._drop()  # the server is closing this connection
        else:
            connection.rset()
        return _classify(message, *failure)


def _send(connection: smtplib.SMTP, pieces: list[bytes]) -> None:
    """Write ``pieces`` in one system call where the platform gathers them, without joining."""
    sock = connection.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("please run connect() first")
    if hasattr(sock, "sendmsg") and not isinstance(sock, ssl.SSLSocket):
        views = [memoryview(piece) for piece in pieces]
        while views:
            sent = sock.sendmsg(views)
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views and sent:
                views[0] = views[0][sent:]
    else:  # TLS sockets and Windows: one write each
        for piece in pieces:
            sock.sendall(piece)


def dot_stuffed(data: bytes) -> bytes:
    """``data`` ready for the DATA phase (RFC 5321 4.5.2), ending in ``CRLF . CRLF``."""
    if data.startswith(b"."):
        data = b"." + data
    data = _LEADING_DOT.sub(b"\n..", data)  # twice as fast as bytes.replace on mail text
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _classify(message: OutgoingMessage, code: int, reply: bytes) -> RecipientResult:
    detail = f"{code} {_text(reply)}"
    if 400 <= code < 500 or code < 200:
        return _deferred(message, detail)
    bounce = code in (550, 551, 553) and bool(_NO_SUCH_USER.search(reply))
    return RecipientResult(
        message.recipient, message.message_id, "failed", detail=detail, bounce=bounce
    )


def _deferred(message: OutgoingMessage, detail: str) -> RecipientResult:
    return RecipientResult(message.recipient, message.message_id, "deferred", detail=detail)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _queue_id(reply: bytes) -> str | None:
    """The id servers tend to put in their 250 reply (``queued as 4F1A2B``), if any."""
    match = re.search(rb"queued as ([A-Za-z0-9._-]+)", reply, re.I)
    return match.group(1).decode("ascii") if match else None
