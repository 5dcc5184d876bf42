"""One family of errors for the whole library.

The CLI turns any ``MailerError`` into a single ``Error: ...`` line and the error's exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MailerError(Exception):
    """A problem the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(MailerError):
    """Bad command-line input or settings."""

    exit_code = 2


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


class InputError(MailerError):
    """A mistake in a file the user wrote (issue YAML, settings, CSV).

    The message reads ``file:line:column: field.path: what is wrong``.
    """

    exit_code = 2

    def __init__(self, location: Location, message: str, field: str | None = None) -> None:
        self.location = location
        self.field = field
        self.reason = message
        where = f"{location}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}")


class ConfigError(InputError):
    """A mistake in ``mailer.toml`` or a ``MAILER_*`` environment variable."""


class DeliveryError(MailerError):
    """Sending could not go on (transport unreachable, too many errors in a row)."""

    exit_code = 1
