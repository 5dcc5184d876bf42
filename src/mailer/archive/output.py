"""Writing the site: only the files whose bytes change, each whole or not at all, and what an
earlier build wrote that is no longer part of the site taken away.

So a rebuild leaves an unchanged page's modification time alone (rsync, ``aws s3 sync`` and
git see nothing to do), and a reader or ``mailer serve --archive`` never gets half a file.
The record of what the builder wrote is kept beside the cache, one per output folder: with
it, a file whose size and time are as written is known unchanged without being read, and
what the builder did not write (a ``CNAME`` for GitHub Pages, a ``.nojekyll``) is never
touched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailer.archive.files import Record, digest, record, still
from mailer.errors import UsageError, WriteFailed
from mailer.textfiles import write_whole


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
        try:
            before = json.loads(self._list.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = {}
        self._before: dict[str, Record] = before if isinstance(before, dict) else {}
        self._now: dict[str, Record] = {}
        self._written: list[str] = []
        self._unchanged = 0

    def put(self, path: str, sha256: str, load: Callable[[], bytes]) -> None:
        """The file at ``path`` (relative to the site) has the bytes ``load()`` gives, whose
        SHA-256 is ``sha256``: read and written only when it may not have them yet."""
        target = self.out / path
        known = self._before.get(path)
        if isinstance(known, list) and len(known) == 3 and known[2] == sha256 and still(
            target, known
        ):
            self._now[path] = known
            self._unchanged += 1
            return
        try:
            data = load()
        except OSError as exc:
            raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from None
        try:
            same = target.read_bytes() == data
        except OSError:
            same = False
        if same:
            self._unchanged += 1
        else:
            self._write(target, data)
            self._written.append(path)
        self._now[path] = record(target, sha256)

    def put_bytes(self, path: str, data: bytes) -> None:
        self.put(path, digest(data), lambda: data)

    def _write(self, target: Path, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_whole(target, data)
        except OSError as exc:
            raise WriteFailed(f"cannot write {target}: {exc.strerror}") from None

    def finish(self) -> Summary:
        """Take away what the last build wrote and this one did not; keep this one's record."""
        removed = sorted(self._before.keys() - self._now.keys())
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
            write_whole(self._list, json.dumps(dict(sorted(self._now.items()))).encode())
        except OSError as exc:
            raise WriteFailed(f"cannot write {self._list}: {exc.strerror}") from None
        return Summary(tuple(self._written), self._unchanged, tuple(removed))
