"""The suppression store's CSV files: importing other systems' exports, exporting its own.

An import reads this store's own export, the old ``suppression.csv`` (``email,reason,date``),
or Mailchimp's unsubscribed and cleaned exports (recognised by their ``UNSUB_TIME`` /
``CLEAN_TIME`` columns). The export is made to be opened in a spreadsheet: no cell of it is a
formula (:mod:`mailer.spreadsheets`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from mailer.audience.store import REASONS, Entry, SuppressionStore
from mailer.audience.subscribers import (
    EMAIL_ALIASES,
    CsvRow,
    CsvTable,
    SkippedRow,
    normalise_address,
)
from mailer.errors import InputError, Location
from mailer.spreadsheets import SafeWriter, uncell

EXPORT_COLUMNS = ("email", "reason", "source", "issue", "detail", "first_seen", "last_seen")
IMPORT_COLUMNS: Mapping[str, Sequence[str]] = {
    "email": EMAIL_ALIASES,
    "reason": ("reason",),
    "date": ("date", "first seen", "first_seen"),
    "unsub_time": ("unsub time",),  # Mailchimp's unsubscribed export
    "clean_time": ("clean time",),  # Mailchimp's cleaned (bounced) export
    "detail": ("detail", "unsub reason"),
    "campaign": ("unsub campaign title", "clean campaign title"),
}


@dataclass(frozen=True)
class Imported:
    added: int
    already: int
    skipped: list[SkippedRow]


def import_csv(
    store: SuppressionStore, path: Path, *, default_reason: str | None = None,
    strict: bool = False,
) -> Imported:
    """Suppress every address of the CSV file at ``path``, in one transaction.

    A wrong row is skipped and reported; with ``strict`` it is an InputError and nothing of the
    file is imported."""
    skipped: list[SkippedRow] = []
    now = time.time()
    with CsvTable(path, IMPORT_COLUMNS, required=("email",)) as table:
        reason = default_reason or _reason_of_export(table.layout)

        def entries() -> Iterator[Entry]:
            for row in table:
                try:
                    yield _imported(path, row, reason, now)
                except InputError as exc:
                    if strict:
                        raise
                    why = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
                    skipped.append(SkippedRow(path, row.line, why))

        added, known = store.add_many(entries())
    return Imported(added, known, skipped)


def export_csv(store: SuppressionStore, out: TextIO) -> int:
    """Every entry as CSV, in the columns :func:`import_csv` reads back; the row count."""
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for entry in store.entries():
        values = entry.as_dict()
        writer.writerow(values[column] for column in EXPORT_COLUMNS)
        count += 1
    return count


def _reason_of_export(layout: list[str | None]) -> str | None:
    """The reason for rows that do not give their own: Mailchimp's exports say what they are
    by their columns, not in a reason column."""
    names = {column for column in layout if column}
    if "reason" in names:
        return None
    if "unsub_time" in names:
        return "unsubscribed"
    if "clean_time" in names:
        return "bounced"
    return "manual"


def _imported(path: Path, row: CsvRow, reason: str | None, now: float) -> Entry:
    where = Location(path, row.line)
    if row.error:
        raise InputError(where, row.error)
    values = {name: uncell(value) for name, value in row.values.items()}
    try:
        email = normalise_address(values["email"])
    except ValueError as exc:
        raise InputError(where, str(exc), "email") from None
    chosen = (values.get("reason") or reason or "manual").lower()
    if chosen not in REASONS:
        raise InputError(
            where, f"unknown reason {chosen!r} (expected one of: {', '.join(REASONS)})", "reason"
        )
    date = values.get("date") or values.get("unsub_time") or values.get("clean_time") or ""
    when = _parse_date(date, where) or now
    detail = " ".join(v for v in (values.get("detail", ""), values.get("campaign", "")) if v)
    return Entry(email, chosen, "import", None, detail, json.dumps(values, ensure_ascii=False),
                 when, when)


def _parse_date(text: str, where: Location) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1)).timestamp()
    except ValueError:
        raise InputError(where, f"not a date {text!r} (expected 2024-05-31)", "date") from None
