"""CSV files mailer writes for people, who open them in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets: a subscriber named ``=HYPERLINK(...)`` or a bounce reason
quoting ``@cmd`` would run when the officer opens the report. Every such cell is written with a
leading ``'`` (OWASP's advice for CSV injection), which spreadsheets show as text; mailer's own
imports take that ``'`` off again, so an export reads back as it was.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """``value`` as a cell no spreadsheet runs (None is an empty cell)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def uncell(text: str) -> str:
    """A cell as :func:`cell` wrote it, back to its value."""
    return text[1:] if text[:1] == "'" and text[1:].startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`cell`."""

    def __init__(self, file: TextIO, **options: Any) -> None:
        self._writer = csv.writer(file, **options)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow([cell(value) for value in values])
