"""``outbox://PATH``: every message becomes a file in a Maildir, so no server is needed.

Any mail client (or ``mailbox.Maildir``) can open the folder. A file is named after the
message's Message-ID and written to ``tmp/`` then renamed into ``new/``, as Maildir requires;
sending the same message again (a resumed send) replaces the file instead of adding a copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Sequence
from functools import lru_cache
from pathlib import Path

from mailer.delivery.message import OutgoingMessage
from mailer.delivery.transports.base import Dsn, RecipientResult, Transport

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class OutboxTransport(Transport):
    name = "outbox"
    max_batch = 50
    reaches_readers = False  # a folder to look at: no reader gets its links

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        if not dsn.location:
            raise dsn.fail("name the Maildir folder, e.g. outbox://outbox")
        self.path = _folder(base_dir, dsn.location)

    def _prepare(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def _write(self, name: str, data: bytes) -> None:
        """``data`` into ``new/name`` by way of ``tmp/``; the folders are made when missing
        (found so, not looked for: a sign-up's confirmation opens a transport for one file)."""
        temporary = self.path / "tmp" / name
        try:
            temporary.write_bytes(data)
            os.replace(temporary, self.path / "new" / name)
        except FileNotFoundError:
            self._prepare()
            temporary.write_bytes(data)
            os.replace(temporary, self.path / "new" / name)

    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        for message in messages:
            name = file_name(message.message_id)
            try:
                # As a delivering MTA records the envelope sender, where bounces go.
                return_path = f"Return-Path: <{message.envelope_sender}>\r\n".encode()
                self._write(name, return_path + message.data)
            except OSError as exc:
                yield [RecipientResult(
                    message.recipient, message.message_id, "deferred",
                    detail=f"cannot write to {self.path}: {exc.strerror}",
                )]
                continue
            yield [RecipientResult(
                message.recipient, message.message_id, "sent", provider_id=name,
                detail=f"written to {self.path / 'new'}",
            )]


@lru_cache(maxsize=16)
def _folder(base_dir: Path, location: str) -> Path:
    """The outbox's folder, resolved once (a sign-up's confirmation opens a transport for
    its one file)."""
    return (base_dir / location).resolve()


def file_name(message_id: str) -> str:
    """A Maildir file name for ``message_id``: the same id always gives the same name."""
    return _UNSAFE.sub("_", message_id) + ".eml"
