"""What the text files people write or export (issues, mailer.toml, CSV) share."""

from __future__ import annotations

from pathlib import Path


def first_line_not_utf8(path: Path) -> int | None:
    """The number of the first line of ``path`` that is not UTF-8 text, if any.

    Decoders read ahead in blocks, so their errors say which byte is wrong but not on which
    line; a person fixing the file needs the line.
    """
    try:
        with open(path, "rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except OSError:
        return None
    return None
