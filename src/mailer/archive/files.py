"""What the archive knows of a file on disk: a record of its bytes that a later build can check
without reading the file again."""

from __future__ import annotations

import hashlib
from pathlib import Path

Record = list  # [size, mtime_ns, SHA-256 of the bytes], as JSON keeps it


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(path: Path, sha256: str | None = None) -> Record:
    """The record of the file at ``path``, whose bytes have ``sha256`` when it is given."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, sha256 or digest(path.read_bytes())]


def still(path: Path, recorded: Record) -> bool:
    """Whether the file at ``path`` still has the bytes ``recorded``: the same size and time
    say so at once; the same size and another time (a checkout, a copy), its SHA-256."""
    try:
        stat = path.stat()
    except OSError:
        return False
    size, mtime, sha256 = recorded
    if stat.st_size != size:
        return False
    if stat.st_mtime_ns == mtime:
        return True
    try:
        if digest(path.read_bytes()) != sha256:
            return False
    except OSError:
        return False
    recorded[1] = stat.st_mtime_ns  # the same bytes at another time: remember the time
    return True
