"""The transport contract: finished messages in, one normalised result per recipient out.

The campaign runner (``mailer.delivery.campaign``) only knows this module. Each transport (Maildir
outbox, SMTP, one module per ESP) turns whatever its server says into :class:`RecipientResult`
values, so the runner never parses a reply code or a provider's JSON.

Rules every transport keeps:

* ``send`` returns exactly one result per message, in the same order.
* A problem with one recipient, or a temporary problem (timeout, dropped connection, 4xx, HTTP
  429/5xx), is a result (``failed`` or ``deferred``), never an exception.
* An exception means the transport cannot work at all as configured (wrong credentials,
  certificate not trusted, server without STARTTLS): :class:`~mailer.errors.TransportError`.
  The runner then stops; nothing in that batch was accepted by the server.
* A feature the provider lacks fails loudly with :class:`~mailer.errors.UnsupportedFeature`.
* A transport reads no settings and no environment: the DSN, the project folder and its
  secret (the one named by ``secret_variable``) come from the factory.
* A transport declares what a send through it needs and can do, before anything connects:
  the secrets (:meth:`Transport.secrets`: its own login, and the key that signs unsubscribe
  links when its messages reach readers), which the send requires all at once; and whether it
  carries an address with a non-ASCII local part (``smtputf8``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

from mailer.audience.unsubscribe import SECRET_NEED as SIGNING
from mailer.credentials import Needed, Redactor
from mailer.delivery.message import OutgoingMessage
from mailer.errors import UsageError

Status = Literal["sent", "queued", "deferred", "failed"]
# Each copy that reaches a reader carries an unsubscribe link signed with this secret.
DELIVERED: frozenset[str] = frozenset({"sent", "queued"})


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What became of one message.

    ``sent``: the server accepted it for delivery (SMTP 250, Maildir written). ``queued``: an
    ESP accepted it into its own queue. ``deferred``: try again later, after ``retry_after``
    seconds if the server said so. ``failed``: permanent for this recipient; ``bounce`` marks an
    address that does not exist, which belongs on the suppression list.
    """

    recipient: str
    message_id: str
    status: Status
    provider_id: str | None = None  # the server's own id (queue id, ESP message id)
    detail: str = ""  # the server's reply or the provider's message, for the ledger
    retry_after: float | None = None  # seconds, when the server asked for a pause
    bounce: bool = False
    shared: bool = False  # the answer to a whole request, the same for each of its messages

    @property
    def delivered(self) -> bool:
        return self.status in DELIVERED


class Transport(ABC):
    """One connection (or HTTP session) to one server. Not shared between threads.

    Made by the factory as ``Kind(dsn, base_dir, secret)``: ``base_dir`` is the project folder
    that relative paths in the DSN start from, ``secret`` the value of ``secret_variable``
    when :meth:`login` says this DSN needs one.
    """

    name: str  # for messages: "SMTP", "SendGrid", ...
    max_batch: int = 1  # most messages one ``send`` call takes
    # False: the transport reads only ``content`` and ``personalisation`` (an ESP fills the
    # templates itself), and the runner leaves ``data`` empty instead of building the bytes.
    needs_mime: bool = True
    secret_variable: ClassVar[str | None] = None  # the environment variable of its secret
    options: ClassVar[tuple[str, ...]] = ()  # the ``?key=value`` options its DSN may carry
    # False only where no reader gets the messages (the outbox): their unsubscribe links are
    # then signed with a development key, and the real one is not needed.
    reaches_readers: ClassVar[bool] = True
    # Whether it carries an address whose local part is not ASCII (``ünï@example.org``): that
    # needs SMTPUTF8 (RFC 6531) and UTF-8 headers (RFC 6532) all the way, and mailer writes
    # ASCII headers, so none does yet. Declared, not found out on a connection: the audience
    # leaves such readers out as wrong rows before anything connects, in a dry run as in a send.
    smtputf8: ClassVar[bool] = False
    # Takes the secret out of any text the transport reports (set from the secret it got).
    redact: Redactor = Redactor()
    # The most messages a second the account may send, when :meth:`verify` read it from the
    # provider (Amazon SES's quota): a send keeps to it without ``--rate``.
    send_rate: float | None = None

    if TYPE_CHECKING:  # what the factory calls; test doubles made by hand may take other things
        def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None: ...

    @classmethod
    def login(cls, dsn: Dsn) -> Needed | None:
        """The secret this transport logs in with for ``dsn`` (``secret_variable``, and what
        it is for), or None when this DSN needs none."""
        return None

    @classmethod
    def secrets(cls, dsn: Dsn) -> list[Needed]:
        """Every secret a send through ``dsn`` needs: the login, and the unsubscribe links'
        key when the messages reach readers. A send names each one missing before it starts."""
        login = cls.login(dsn)
        return [*([login] if login else []), *([SIGNING] if cls.reaches_readers else [])]

    @abstractmethod
    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        """Deliver ``messages`` (at most ``max_batch``, all of the same issue), one exchange
        with the server at a time, yielding each exchange's results in order as soon as the
        server has answered: one result for an SMTP transaction or a file, one per message
        for an HTTP request.

        The next exchange starts only when the caller asks for it, and the caller records
        each exchange's results first: so a killed process leaves at most the one exchange in
        flight unrecorded. A TransportError ends the stream: the messages whose results were
        not yielded were not accepted.
        """

    def send(self, messages: Sequence[OutgoingMessage]) -> list[RecipientResult]:
        """Every result at once, for callers that record nothing in between."""
        return [result for results in self.stream(messages) for result in results]

    def scrub(self, result: RecipientResult) -> RecipientResult:
        """``result`` with the secret taken out of its detail, in whatever form a server
        quoted it back."""
        if not self.redact:
            return result
        return replace(result, detail=self.redact(result.detail))

    def verify(self) -> None:  # noqa: B027 - a transport without a server has nothing to check
        """Check that the settings work, before anything is sent; TransportError if not.

        Called once before a send starts (and by ``mailer doctor``), so that an unknown host, a
        refused login or a wrong TLS mode stops the command at once instead of deferring every
        message; it sends nothing and changes nothing on the server. What can be checked
        without the network (a key's format) is already checked when the transport is made.
        The transport may be used or closed afterwards.
        """

    def close(self) -> None:  # noqa: B027 - most transports hold nothing to release
        """Release connections; the transport may not be used afterwards."""


@dataclass(frozen=True)
class Dsn:
    """A transport address such as ``smtp://user@mail.example.org:587?tls=none``."""

    text: str
    scheme: str
    user: str | None
    host: str
    port: int | None
    path: str
    location: str  # everything between ``://`` and ``?``, as written (outbox://PATH)
    options: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Dsn:
        # Before urlsplit: a password holding "/", "?" or "#" would otherwise end the authority
        # early and come back in a "port is not a number" error, or pass as a path.
        if _has_password(text.strip()):
            raise UsageError(
                f"transport {mask(text)!r}: put the password in the environment "
                "(MAILER_SMTP_PASSWORD), never in the DSN"
            )
        parts = urlsplit(text.strip())
        if not parts.scheme or "://" not in text:
            raise UsageError(f"transport {mask(text)!r} is not a DSN like smtp://host:587")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"transport {mask(text)!r}: the port is not a number") from None
        if parts.password is not None:  # "user:123/x@host", which reads as a port and a path
            raise UsageError(
                f"transport {mask(text)!r}: put the password in the environment "
                "(MAILER_SMTP_PASSWORD), never in the DSN"
            )
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(
            text=text.strip(),
            scheme=parts.scheme.lower(),
            user=parts.username,
            host=parts.hostname or "",
            port=port,
            path=parts.path,
            location=parts.netloc + parts.path,
            options=options,
        )

    def __str__(self) -> str:
        return mask(self.text)

    def check_options(self, known: Sequence[str]) -> None:
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise UsageError(
                f"transport {self}: unknown option {', '.join(unknown)} (known: {allowed})"
            )

    def fail(self, message: str) -> UsageError:
        return UsageError(f"transport {self}: {message}")


# ``user:`` right after ``://`` (a user name holds none of ``:/@?#``), then anything up to the
# last ``@``: whatever a password holds, even ``@``, is covered. A DSN without a password but
# with ``@`` after a ``host:port`` gets masked too; hiding too much is the safe mistake.
_USER_AND_PASSWORD = re.compile(r"(://[^:/@?#]*):.*@", re.S)
# What may follow ``host:`` when it is a port rather than the start of a password.
_PORT = re.compile(r"\d*(?:[/?#]|$)")


def _has_password(text: str) -> bool:
    """Whether ``text`` (a DSN) has ``user:password@`` in it, whatever the password holds."""
    _, sep, rest = text.partition("://")
    user = re.match(r"[^:/@?#\[\]]*:", rest) if sep else None
    if user is None:
        return False
    after = rest[user.end():]
    return "@" in after and not _PORT.match(after)


def mask(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (for messages and logs)."""
    return _USER_AND_PASSWORD.sub(r"\1:***@", dsn)
