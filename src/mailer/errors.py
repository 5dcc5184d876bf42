"""One family of errors for the whole library, each kind carrying the exit status it means.

The CLI turns any ``MailerError`` into a single ``Error: ...`` line and the error's
``exit_code``, in one place; anything else is a bug and keeps its traceback.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      done
1      the checks found errors, some recipients failed permanently, or the command failed for a
       reason its message gives (a file it cannot write, a missing browser, nothing to publish)
2      the input cannot be used: an issue, mailer.toml, a CSV, a DSN, a flag, a missing secret,
       the theme, a ledger or suppression store that cannot be opened (or that a newer mailer
       wrote), a transport's or the bounce mailbox's login or certificate; nothing was sent
3      the send is not finished, and running the same command again continues it (rows deferred
       for later, a pause after errors in a row, a server that cannot be reached)
130    interrupted (Ctrl-C); running the same command again continues it
=====  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DONE = 0
FAILED = 1
UNUSABLE_INPUT = 2
UNFINISHED = 3
INTERRUPTED = 130


class MailerError(Exception):
    """A problem the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = FAILED


# --- 2: the input cannot be used ------------------------------------------------------------


class UsageError(MailerError):
    """Bad command-line input, settings or environment."""

    exit_code = UNUSABLE_INPUT


class MissingSecret(UsageError):
    """A secret the command needs is not in the environment (or is unusable)."""


@dataclass(frozen=True)
class Location:
    """Where in a file something is; line and column are 1-based."""

    path: Path | str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = str(self.path)
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class InputError(UsageError):
    """A mistake in a file the user wrote (issue YAML, settings, CSV).

    The message reads ``file:line:column: field.path: what is wrong``.
    """

    def __init__(self, location: Location, message: str, field: str | None = None) -> None:
        self.location = location
        self.field = field
        self.reason = message
        where = f"{location}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}")


class ConfigError(InputError):
    """A mistake in ``mailer.toml`` or a ``MAILER_*`` environment variable."""


class ThemeError(UsageError):
    """The theme cannot be used: a file missing from every theme folder, a template that is not
    valid MJML."""


class UnusableDatabase(UsageError):
    """The send ledger or the suppression store cannot be used: its path cannot be opened as
    one, or a newer mailer wrote it."""


class MergeFieldError(UsageError):
    """A merge field that is not allowed; the loader adds where it is written."""


class MessageError(UsageError):
    """A value that cannot go into an email message (a line break in a header, say)."""


class HeaderInjection(MessageError):
    """A header value held a line break: refused, never passed through."""


class InvalidRecipient(MessageError):
    """This one recipient cannot get a message (the rest of the send goes on)."""


class MailboxError(UsageError):
    """The bounce mailbox cannot be read as given: a wrong path or URL, a refused login, an
    untrusted certificate, a folder that does not exist."""


class UnsupportedFeature(UsageError):
    """The message needs something the chosen transport cannot do; raised, never ignored."""


class TransportError(UsageError):
    """The transport cannot send at all as configured: a refused login, an untrusted
    certificate, an account not allowed to send. Carries the provider and its own words."""

    def __init__(self, provider: str, message: str, http_status: int | None = None) -> None:
        self.provider = provider
        self.http_status = http_status
        self.provider_message = message
        status = f" (HTTP {http_status})" if http_status is not None else ""
        super().__init__(f"{provider}{status}: {message}")


# --- 1: something failed --------------------------------------------------------------------


class ChecksFailed(MailerError):
    """The pre-send checks found errors."""


class RecipientsFailed(MailerError):
    """The send is finished, and some recipients failed permanently (see ``mailer status``)."""


class ToolMissing(MailerError):
    """A program the command needs (Chromium, Playwright) is not installed."""


class ToolFailed(MailerError):
    """A program the command drives (Chromium) would not start, or failed."""


class WriteFailed(MailerError):
    """A file or folder the command writes cannot be written: a path through a file, no
    permission, a full disk, or a file that is there already and is never overwritten."""


class CannotListen(MailerError):
    """A local server cannot listen on its address: the port is taken, or not allowed."""


class NothingToPublish(MailerError):
    """``mailer archive`` found no issue it may publish; nothing was written."""


# --- 3: not finished ------------------------------------------------------------------------


class DeliveryError(MailerError):
    """The send is not finished; running the same command again continues it."""

    exit_code = UNFINISHED


class Unreachable(DeliveryError):
    """The server cannot be reached now (refused, timed out); nothing was sent."""


class Interrupted(MailerError):
    """Stopped by Ctrl-C; what was in flight was recorded."""

    exit_code = INTERRUPTED
