"""What the files mailer reads and writes share: the text files people write or export
(issues, mailer.toml, CSV) are read line by line; the files it writes itself are written whole."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO


def first_line_not_utf8(path: Path | Callable[[], IO[bytes]]) -> int | None:
    """The number of the first line of ``path`` (a file, or what opens one) that is not UTF-8
    text, if any.

    Decoders read ahead in blocks, so their errors say which byte is wrong but not on which
    line; a person fixing the file needs the line.
    """
    try:
        with path() if callable(path) else open(path, "rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except OSError:
        return None
    return None


def write_whole(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a temporary file beside it: a reader (or a second run at
    the same time) finds the old file or the new one, never half of one. OSError as writing
    raises it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
