"""What the bounce command needs of a mailbox, whichever kind it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

PROCESSED = "processed"  # the folder handled messages are moved to


class Mailbox(ABC):
    """The messages waiting in one folder of the bounce mailbox.

    Reading never changes a message (not even its read flag); the only change ever made is
    :meth:`move_to_processed`, which the command calls after it has recorded the verdict.
    """

    @abstractmethod
    def waiting(self) -> list[str]:
        """The waiting messages, oldest first: every message in the folder (the handled ones
        have left it), so one a person has opened, or a previous run left unknown, is judged
        again."""

    @abstractmethod
    def fetch(self, key: str) -> bytes | None:
        """The message's bytes, exactly as stored; None if it is gone (moved by someone else)."""

    @abstractmethod
    def move_to_processed(self, key: str) -> None:
        """Move the message to the processed folder (created if missing); nothing else moves."""

    def close(self) -> None:  # noqa: B027 - a Maildir holds nothing open
        """Let go of the connection, if there is one."""

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
