"""Writing the site: only the files whose bytes change, each whole or not at all, and what an
earlier build wrote that is no longer part of the site taken away.

So a rebuild leaves an unchanged page's modification time alone (rsync, ``aws s3 sync`` and
git see nothing to do), and a reader or ``mailer serve --archive`` never gets half a file.
What the builder did not write (a ``CNAME`` for GitHub Pages, a ``.nojekyll``) is never
touched: the list of what it wrote is kept beside the cache, one list per output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mailer.errors import MailerError


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a temporary file beside it, so the file is always whole."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@dataclass(frozen=True)
class Summary:
    written: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]


class SiteWriter:
    """Puts files into the site folder ``out``; :meth:`finish` takes away the stale ones."""

    def __init__(self, out: Path, lists: Path) -> None:
        self.out = out
        key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
        self._list = lists / f"site-{key}.json"
        self._put: set[str] = set()
        self._written: list[str] = []
        self._unchanged = 0

    def put(self, path: str, data: bytes) -> None:
        """The file at ``path`` (relative to the site) holds ``data``; written if it did not."""
        target = self._target(path)
        try:
            if target.read_bytes() == data:
                self._unchanged += 1
                return
        except OSError:
            pass
        self._write(target, path, data)

    def copy(self, path: str, source: Path) -> None:
        """A copy of ``source`` at ``path``, whose name changes with its content (the site's
        images): one of the same size there already is that copy."""
        target = self._target(path)
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            self._unchanged += 1
            return
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise MailerError(f"cannot read {source}: {exc.strerror}") from None
        self._write(target, path, data)

    def _target(self, path: str) -> Path:
        self._put.add(path)
        return self.out / path

    def _write(self, target: Path, path: str, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, data)
        except OSError as exc:
            raise MailerError(f"cannot write {target}: {exc.strerror}") from None
        self._written.append(path)

    def finish(self) -> Summary:
        """Take away what the last build wrote and this one did not; remember this one's."""
        try:
            before = set(json.loads(self._list.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            before = set()
        removed = sorted(before - self._put)
        for path in removed:
            target = self.out / path
            target.unlink(missing_ok=True)
            for folder in target.parents:  # and the folders it leaves empty
                if folder == self.out or not folder.is_relative_to(self.out):
                    break
                try:
                    folder.rmdir()
                except OSError:  # not empty
                    break
        try:
            self._list.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self._list, json.dumps(sorted(self._put), indent=0).encode())
        except OSError as exc:
            raise MailerError(f"cannot write {self._list}: {exc.strerror}") from None
        return Summary(tuple(self._written), self._unchanged, tuple(removed))
