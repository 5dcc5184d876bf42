"""The bounce mailbox on an IMAP server: ``imaps://USER@HOST[:PORT]/FOLDER`` (stdlib imaplib).

``imaps://`` is TLS from the first byte (port 993), ``imap://`` (port 143) must switch to TLS
with STARTTLS before the password is sent; certificates are verified against the system's CAs,
or only against ``?cafile=PATH`` for a private CA. A server that offers no STARTTLS gets the
password in the clear only on loopback, or when the caller says so (``allow_plaintext``). The
password is a parameter (the command reads ``MAILER_IMAP_PASSWORD``), never part of the URL.

Messages are addressed by UID. The waiting ones are all in the folder not flagged ``\\Deleted``
(whether read or not: handled ones have left it, and one a person has opened must still be
judged). Fetching uses ``BODY.PEEK[]``, which leaves ``\\Seen`` alone. A handled message moves
to the folder ``processed`` (created if missing): by ``UID MOVE`` (RFC 6851) when the server
offers it, else ``UID COPY`` and ``\\Deleted`` on that UID, then ``UID EXPUNGE`` of that UID
alone (RFC 4315 UIDPLUS). Without UIDPLUS the copy is left flagged ``\\Deleted`` (and is no
longer listed): a plain EXPUNGE, or CLOSE, would also remove what others flagged, so neither
is ever sent.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mailer.errors import MailboxError, Unreachable
from mailer.feedback.mailbox.base import PROCESSED, Mailbox
from mailer.fields import is_loopback

PORTS = {"imaps": 993, "imap": 143}
TIMEOUT = 30.0  # seconds for connecting and for each command


@dataclass(frozen=True)
class ImapAddress:
    """Where the bounce mailbox is, as read from its URL."""

    scheme: str  # "imaps" or "imap"
    user: str
    host: str
    port: int
    folder: str
    cafile: Path | None = None

    def __str__(self) -> str:  # in messages; never with the user's password, which it has not
        return f"{self.scheme}://{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapAddress:
    """``imaps://USER@HOST[:PORT]/FOLDER[?cafile=PATH]``; MailboxError if it is not one.

    The user name may be percent-encoded (``bounces%40example.org``); the folder defaults to
    INBOX. A password in the URL is refused, without repeating the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in PORTS:
        raise MailboxError("the bounce mailbox URL must start with imaps:// (or imap://)")
    if parts.password is not None:
        raise MailboxError(
            "the bounce mailbox URL holds a password: give it in MAILER_IMAP_PASSWORD instead"
        )
    if not parts.username or not parts.hostname:
        raise MailboxError(f"the bounce mailbox URL needs a user and a host: {url}")
    try:
        port = parts.port or PORTS[parts.scheme]
    except ValueError:
        raise MailboxError(f"the bounce mailbox URL has a wrong port: {url}") from None
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"cafile"})
    if unknown:
        raise MailboxError(f"the bounce mailbox URL has unknown options: {', '.join(unknown)}")
    cafile = Path(options["cafile"][-1]) if options.get("cafile") else None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if not folder.isascii():
        raise MailboxError(f"only folder names in ASCII are supported: {folder!r}")
    return ImapAddress(parts.scheme, unquote(parts.username), parts.hostname, port, folder,
                       cafile)


def open_imap(
    url: str,
    password: str,
    *,
    allow_plaintext: bool = False,
    processed: str = PROCESSED,
    timeout: float = TIMEOUT,
) -> ImapMailbox:
    """Log in and select the folder of ``url``.

    ``processed`` is the full name of the folder handled messages go to (``INBOX.processed``
    on servers that keep every folder under INBOX, such as Courier).

    MailboxError (exit 2) for a wrong URL, a refused login or certificate, a missing folder, or
    a server that would see the password in the clear; Unreachable (exit 3) when the server
    cannot be reached now.
    """
    address = parse_imap_url(url)
    if address.cafile is not None and not address.cafile.is_file():
        raise MailboxError(f"the CA file {address.cafile} does not exist")
    context = ssl.create_default_context(
        cafile=str(address.cafile) if address.cafile else None
    )
    with _talking(address, "connecting"):
        if address.scheme == "imaps":
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                address.host, address.port, ssl_context=context, timeout=timeout
            )
        else:
            connection = imaplib.IMAP4(address.host, address.port, timeout=timeout)
            if "STARTTLS" in connection.capabilities:
                connection.starttls(ssl_context=context)
            elif not (allow_plaintext or is_loopback(address.host)):
                connection.shutdown()
                raise MailboxError(
                    f"{address} offers no STARTTLS: refusing to send the password in the "
                    "clear (use imaps://)"
                )
    try:
        with _talking(address, f"the login as {address.user}"):
            connection.login(address.user, password)
        box = ImapMailbox(connection, address, processed)
        box.select()
    except BaseException:
        connection.shutdown()
        raise
    return box


class ImapMailbox(Mailbox):
    def __init__(self, connection: imaplib.IMAP4, address: ImapAddress, processed: str) -> None:
        self.connection = connection
        self.address = address
        self.processed = processed
        self._processed_exists = False
        # What the server offers after login (servers announce more than before it).
        said = self._ok("CAPABILITY", connection.capability)[-1]
        self.capabilities = frozenset(said.decode("ascii", "replace").upper().split())

    def select(self) -> None:
        with _talking(self.address, "SELECT"):
            typ, data = self.connection.select(quoted(self.address.folder))
        if typ != "OK":
            raise MailboxError(f"{self.address}: no folder {self.address.folder!r} ({_said(data)})")

    def waiting(self) -> list[str]:
        self._ok("NOOP", self.connection.noop)  # brings this session's view up to date
        data = self._ok("SEARCH", self.connection.uid, "SEARCH", "UNDELETED")
        return [uid.decode("ascii") for uid in (data[0] or b"").split()]

    def fetch(self, key: str) -> bytes | None:
        data = self._ok("FETCH", self.connection.uid, "FETCH", key, "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0].upper():
                return item[1]
        return None  # expunged by someone else meanwhile

    def move_to_processed(self, key: str) -> None:
        folder = quoted(self.processed)
        self._make_processed(folder)
        uid = self.connection.uid
        if "MOVE" in self.capabilities:
            self._ok("MOVE", uid, "MOVE", key, folder)
            return
        self._ok("COPY", uid, "COPY", key, folder)
        self._ok("STORE", uid, "STORE", key, "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self.capabilities:
            self._ok("EXPUNGE", uid, "EXPUNGE", key)

    def close(self) -> None:
        """LOGOUT only: CLOSE would expunge every message flagged \\Deleted, others' too."""
        with suppress(imaplib.IMAP4.error, OSError):  # already gone: nothing to let go of
            self.connection.logout()

    def _make_processed(self, folder: str) -> None:
        if self._processed_exists:
            return
        if not self._listed(folder):
            with _talking(self.address, "CREATE"):
                typ, data = self.connection.create(folder)
            if typ != "OK" and not self._listed(folder):  # made meanwhile by another client: fine
                raise MailboxError(
                    f"{self.address}: cannot create the folder {self.processed!r} ({_said(data)})"
                )
        self._processed_exists = True

    def _listed(self, folder: str) -> bool:
        listed = self._ok("LIST", self.connection.list, '""', folder)
        return any(item is not None for item in listed)

    def _ok(self, command: str, call: Callable[..., tuple[str, list]], *args: str) -> list:
        """The data of ``call(*args)``; MailboxError unless the server answered OK."""
        with _talking(self.address, command):
            typ, data = call(*args)
        if typ != "OK":
            raise MailboxError(f"{self.address}: {command} failed ({_said(data)})")
        return data


@contextmanager
def _talking(address: ImapAddress, doing: str) -> Iterator[None]:
    """imaplib's and the socket's errors as the library's: a lost or unreachable server is
    Unreachable (exit 3, try again later), anything the server refused is MailboxError."""
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(
            f"{address}: the server's certificate is not trusted ({exc.verify_message}); "
            "for a private CA add ?cafile=PATH to the URL"
        ) from None
    except imaplib.IMAP4.abort as exc:
        raise Unreachable(f"{address}: the connection was lost during {doing} ({exc})") from None
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"{address}: {doing} was refused ({exc})") from None
    except OSError as exc:
        raise Unreachable(f"{address} cannot be reached: {exc}") from None


def quoted(name: str) -> str:
    """A folder name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(data: list) -> str:
    return " ".join(
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        for item in data
    )
