"""The bounce mailbox as a Maildir on this machine (delivered to by Postfix, Exim or Dovecot).

The waiting messages are the files in ``new/`` and ``cur/`` (not in any folder, and not those
flagged ``T``, trashed); a message's key is its unique name, the part before ``:2,flags``, so
it still finds the file after a mail client has moved it from ``new/`` to ``cur/`` or changed
its flags. Handled messages move to the Maildir++ folder ``.processed`` (which Dovecot and
Courier show as the folder ``processed``) by one rename, keeping their name and flags.
"""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

from mailer.errors import MailboxError
from mailer.feedback.mailbox.base import PROCESSED, Mailbox

COLON = mailbox.Maildir.colon  # ":" (the separator of the info part; "!" on Windows)
SUBDIRS = ("new", "cur")


def open_maildir(path: Path | str, *, processed: str = PROCESSED) -> MaildirMailbox:
    """The Maildir at ``path``; MailboxError if it is not one."""
    root = Path(path)
    missing = [name for name in ("new", "cur", "tmp") if not (root / name).is_dir()]
    if missing:
        raise MailboxError(f"{root} is not a Maildir (it has no {', '.join(missing)} folder)")
    return MaildirMailbox(root, processed)


class MaildirMailbox(Mailbox):
    def __init__(self, root: Path, processed: str) -> None:
        self.root = root
        self.processed = processed
        self._paths: dict[str, Path] = {}

    def waiting(self) -> list[str]:
        self._paths = self._scan()
        return list(self._paths)

    def fetch(self, key: str) -> bytes | None:
        path = self._find(key)
        try:
            return path.read_bytes() if path else None
        except FileNotFoundError:  # moved between finding and reading
            return None

    def move_to_processed(self, key: str) -> None:
        path = self._find(key)
        if path is None:
            return  # already gone: moved by someone else
        folder = self.root / f".{self.processed}"
        if not (folder / path.parent.name).is_dir():
            mailbox.Maildir(self.root, create=False).add_folder(self.processed)
        try:
            os.rename(path, folder / path.parent.name / path.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise MailboxError(f"cannot move {path} to {folder}: {exc.strerror}") from None
        self._paths.pop(key, None)

    def _find(self, key: str) -> Path | None:
        path = self._paths.get(key)
        if path is None or not path.exists():
            self._paths = self._scan()
            path = self._paths.get(key)
        return path

    def _scan(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for subdir in SUBDIRS:
            try:
                names = sorted(os.listdir(self.root / subdir))
            except OSError as exc:
                raise MailboxError(f"cannot read {self.root / subdir}: {exc.strerror}") from None
            for name in names:
                unique, _, info = name.partition(COLON)
                flags = info[2:] if info.startswith("2,") else ""
                if name.startswith(".") or "T" in flags:
                    continue
                found.setdefault(unique, self.root / subdir / name)
        return dict(sorted(found.items(), key=lambda item: item[1].name))
