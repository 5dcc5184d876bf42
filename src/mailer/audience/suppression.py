"""Who must never be written to again (the suppression list), and who is left to write to.

A CSV file with a header line and the columns ``email,reason,date``; ``reason`` is one of
``unsubscribed``, ``bounced`` or ``complained`` and ``date`` (may be empty) is an ISO date or
timestamp. It is read the same forgiving way as the subscribers file, but any wrong row is an
error: a suppression list that is only partly understood is not safe to send with.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mailer.audience.subscribers import (
    EMAIL_ALIASES,
    CsvRow,
    CsvTable,
    SkippedRow,
    Subscriber,
    SubscriberReader,
    address_key,
    normalise_address,
)
from mailer.errors import InputError, Location

REASONS = ("unsubscribed", "bounced", "complained")
SUPPRESSION_COLUMNS: Mapping[str, Sequence[str]] = {
    "email": EMAIL_ALIASES,
    "reason": ("reason",),
    "date": ("date",),
}


class SuppressionList:
    """Suppressed addresses (as keys, compared case-insensitively) and why each is suppressed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # None: additions are kept for this run only
        self._reasons: dict[int, str] = {}
        self._lock = threading.Lock()  # add() may be called from several sending threads

    @classmethod
    def load(cls, path: Path | None) -> SuppressionList:
        """The list in ``path``; empty when there is no file (yet), InputError on a wrong row."""
        suppression = cls(path)
        if path is None or not path.exists() or not path.stat().st_size:
            return suppression
        with CsvTable(path, SUPPRESSION_COLUMNS, required=("email", "reason")) as table:
            for row in table:
                key, reason = _entry(path, row)
                suppression._reasons.setdefault(key, reason)
        return suppression

    def __len__(self) -> int:
        return len(self._reasons)

    def __contains__(self, email: str) -> bool:
        return self.reason(email) is not None

    def reason(self, email: str) -> str | None:
        """Why ``email`` is suppressed (``unsubscribed``, ``bounced``, ``complained``), or None."""
        try:
            return self._reasons.get(address_key(normalise_address(email.strip())))
        except ValueError:
            return None  # only valid addresses are ever on the list

    def reason_for(self, subscriber: Subscriber) -> str | None:
        """Like :meth:`reason`, without validating the address again: it already was."""
        return self._reasons.get(address_key(subscriber.email))

    def add(self, email: str, reason: str, when: datetime | None = None) -> None:
        """Suppress ``email`` from now on, and append it to the file (created if need be).

        The row is on disk (fsync'd) when this returns, so a crash later in the send cannot
        forget a hard bounce. ValueError if ``email`` or ``reason`` is not valid.
        """
        if reason not in REASONS:
            raise ValueError(f"unknown suppression reason {reason!r}")
        email = normalise_address(email.strip())
        when = when or datetime.now(UTC)
        with self._lock:
            self._reasons.setdefault(address_key(email), reason)
            if self.path is not None:
                _append(
                    self.path,
                    {"email": email, "reason": reason, "date": when.isoformat(timespec="seconds")},
                )


def _entry(path: Path, row: CsvRow) -> tuple[int, str]:
    """The address key and reason in ``row``, or InputError saying what is wrong with it."""
    where = Location(path, row.line)
    if row.error:
        raise InputError(where, row.error)
    try:
        email = normalise_address(row.values["email"])
    except ValueError as exc:
        raise InputError(where, str(exc), "email") from None
    reason = row.values["reason"].lower()
    if reason not in REASONS:
        raise InputError(
            where,
            f"unknown reason {row.values['reason']!r} (expected one of: {', '.join(REASONS)})",
            "reason",
        )
    date = row.values.get("date", "")
    if date and not _is_iso_date(date):
        raise InputError(where, f"not an ISO date {date!r} (expected 2024-05-31)", "date")
    return address_key(email), reason


def _is_iso_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _append(path: Path, values: Mapping[str, str]) -> None:
    """Add a row to the CSV file at ``path`` in the file's own separator and column order."""
    text = io.StringIO()
    if path.exists() and path.stat().st_size:
        with CsvTable(path, SUPPRESSION_COLUMNS, required=("email", "reason")) as table:
            delimiter, layout = table.delimiter, table.layout
        with open(path, "rb") as file:
            file.seek(-1, os.SEEK_END)
            if file.read(1) not in b"\r\n":
                text.write("\n")  # the last row was saved without a line ending
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        delimiter, layout = ",", list(SUPPRESSION_COLUMNS)
        csv.writer(text, lineterminator="\n").writerow(layout)
    row = [values.get(column, "") if column else "" for column in layout]
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerow(row)
    with open(path, "a", encoding="utf-8", newline="") as file:
        file.write(text.getvalue())
        file.flush()
        os.fsync(file.fileno())


class Audience:
    """Who an issue goes to: the subscribers file minus the suppression list.

    Iterating yields subscribers; the counts are complete once it ends.
    """

    def __init__(self, reader: SubscriberReader, suppression: SuppressionList) -> None:
        self.reader = reader
        self.suppression = suppression
        self.subscribed = 0  # yielded: to be written to
        self.suppressed = 0

    def __iter__(self) -> Iterator[Subscriber]:
        self.subscribed = self.suppressed = 0
        for subscriber in self.reader:
            if self.suppression.reason_for(subscriber) is not None:
                self.suppressed += 1
                continue
            self.subscribed += 1
            yield subscriber

    @property
    def unsubscribed(self) -> int:
        return self.reader.unsubscribed

    @property
    def duplicates(self) -> int:
        return self.reader.duplicates

    @property
    def skipped(self) -> int:
        return self.reader.skipped_count

    @property
    def skipped_rows(self) -> list[SkippedRow]:
        return self.reader.skipped

    @property
    def warnings(self) -> list[str]:
        return self.reader.warnings

    @property
    def warning_count(self) -> int:
        return self.reader.warning_count
