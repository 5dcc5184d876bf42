"""A Mailchimp audience export, read into typed records, and its suppressions applied.

Mailchimp's "Export audience" gives a zip of three CSV files, one per status:
``subscribed_members_export_<id>.csv``, ``unsubscribed_members_export_<id>.csv`` and
``cleaned_members_export_<id>.csv`` (newer exports name them ``..._email_audience_export_...``).
Each has a header line naming Mailchimp's columns::

    "Email Address","First Name","Last Name",<the audience's own fields>,MEMBER_RATING,
    OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,
    REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS

where the unsubscribed file has ``UNSUB_TIME``, ``UNSUB_CAMPAIGN_TITLE``,
``UNSUB_CAMPAIGN_ID``, ``UNSUB_REASON`` and ``UNSUB_REASON_OTHER`` in place of
``LAST_CHANGED``, and the cleaned file ``CLEAN_TIME``, ``CLEAN_CAMPAIGN_TITLE`` and
``CLEAN_CAMPAIGN_ID``. Times are UTC, written ``2024-03-05 10:11:12``. ``OPTIN_TIME`` is when
the reader signed up (empty when they were added by hand or imported), ``CONFIRM_TIME`` when
they confirmed (or were added). ``TAGS`` holds the member's tags, ``"a, b"`` or each tag in
double quotes (``"a","b"``). A ``LANGUAGE`` (or ``Language``) column is read when there is one.

What a member export holds is typed by many hands and is read as text, never run: nothing is
neutralised on reading (a name of ``=HYPERLINK(...)`` stays that name), so whatever writes it
for a spreadsheet again must (:mod:`mailer.spreadsheets`). A row without a valid address is
left out and located (``file:line``), as the subscribers CSV's rows are; a time, IP address or
language that cannot be read is left empty with a warning, so that an unsubscribe is never
lost to a typo in another column.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from mailer.audience.store import Entry, SuppressionStore
from mailer.audience.subscribers import (
    EMAIL_ALIASES,
    MAX_RECORDED,
    CsvRow,
    CsvTable,
    SkippedRow,
    lenient_address,
    normalise_address,
    split_tags,
)
from mailer.errors import InputError, Location
from mailer.fields import is_language_tag

Status = Literal["subscribed", "unsubscribed", "cleaned"]
STATUSES: tuple[Status, ...] = ("subscribed", "unsubscribed", "cleaned")
SOURCE = "import:mailchimp"  # the suppression store's source of what an export suppresses

# The export's files, by the status their name starts with.
_EXPORT_FILE = re.compile(r"^(subscribed|unsubscribed|cleaned)_.*\.csv$", re.IGNORECASE)

# Known column -> the header names Mailchimp writes for it (compared as CsvTable compares).
COLUMNS: Mapping[str, Sequence[str]] = {
    "email": EMAIL_ALIASES,
    "name": ("name", "full name"),
    "first_name": ("first name", "fname"),
    "last_name": ("last name", "lname"),
    "language": ("language", "mc language"),
    "tags": ("tags",),
    "optin_time": ("optin time",),
    "optin_ip": ("optin ip",),
    "confirm_time": ("confirm time",),
    "confirm_ip": ("confirm ip",),
    "last_changed": ("last changed",),
    "unsub_time": ("unsub time",),
    "unsub_campaign": ("unsub campaign title",),
    "unsub_reason": ("unsub reason",),
    "unsub_reason_other": ("unsub reason other",),
    "clean_time": ("clean time",),
    "clean_campaign": ("clean campaign title",),
}
# How messages name a column: as Mailchimp's header does.
_HEADER = {
    "language": "LANGUAGE", "optin_time": "OPTIN_TIME", "optin_ip": "OPTIN_IP",
    "confirm_time": "CONFIRM_TIME", "confirm_ip": "CONFIRM_IP", "last_changed": "LAST_CHANGED",
    "unsub_time": "UNSUB_TIME", "clean_time": "CLEAN_TIME",
}


@dataclass(frozen=True, slots=True)
class MailchimpMember:
    """One row of an export: a member, their consent and what became of them."""

    email: str  # normalised as the subscribers CSV's addresses are
    status: Status  # the file it came from
    path: Path  # that file (in a zip: the zip's path and the file's name)
    line: int  # the line its row starts on
    name: str = ""  # a Name column, else the first and last names
    first_name: str = ""
    last_name: str = ""
    language: str = ""  # a BCP 47 tag (Mailchimp's ``pt_BR`` is ``pt-BR``); "" when not known
    tags: tuple[str, ...] = ()
    optin_time: datetime | None = None  # UTC: when they signed up (None: added, not signed up)
    optin_ip: str = ""
    confirm_time: datetime | None = None  # UTC: when they confirmed (or were added)
    confirm_ip: str = ""
    last_changed: datetime | None = None  # UTC: the member's last change (subscribed ones)
    status_time: datetime | None = None  # UTC: when they unsubscribed or were cleaned
    campaign: str = ""  # the campaign they unsubscribed from, or that bounced
    reason: str = ""  # why they unsubscribed, in their words or Mailchimp's

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)

    def as_dict(self) -> dict[str, object]:
        """The record as JSON can hold it (times in ISO 8601, UTC)."""
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, datetime):
                values[key] = value.isoformat()
            elif isinstance(value, Path):
                values[key] = str(value)
            elif isinstance(value, tuple):
                values[key] = list(value)
        return values


@dataclass(frozen=True)
class ExportFile:
    """One CSV file of an export: its status, the path messages name, and how to open it."""

    status: Status
    path: Path
    opener: Callable[[], IO[bytes]] | None = None  # a zip's member; None: the file at path


class MailchimpExport:
    """The members of a Mailchimp audience export, read as a stream, file by file (subscribed,
    unsubscribed, cleaned).

    ``path`` is the export's zip, a folder holding its CSV files, or one of them (its status
    from its name, else from its columns). A row that cannot be read, or has no valid address,
    raises InputError when ``strict``, and is otherwise recorded in ``skipped``. Counts and
    lists are complete once iteration ends, and reset when it starts again.
    """

    def __init__(self, path: Path, *, strict: bool = False) -> None:
        self.path = Path(path)
        self.strict = strict
        self._reset()

    def _reset(self) -> None:
        self.counts: Counter[Status] = Counter()  # members yielded, by status
        self.skipped: list[SkippedRow] = []  # the first MAX_RECORDED wrong rows
        self.skipped_count = 0
        self.warnings: list[str] = []  # the first MAX_RECORDED warnings
        self.warning_count = 0

    def __iter__(self) -> Iterator[MailchimpMember]:
        self._reset()
        if self.path.is_dir():
            yield from self._read_all(_folder_files(self.path))
        elif zipfile.is_zipfile(self.path):
            try:
                with zipfile.ZipFile(self.path) as archive:
                    yield from self._read_all(_zip_files(self.path, archive))
            except zipfile.BadZipFile as exc:
                raise InputError(Location(self.path), f"cannot read the zip ({exc})") from None
        else:
            named = _status_of_name(self.path.name)
            yield from self._read(ExportFile(named or "subscribed", self.path), named=named)

    def _read_all(self, files: list[ExportFile]) -> Iterator[MailchimpMember]:
        if not files:
            raise InputError(
                Location(self.path),
                "no Mailchimp export files in it (subscribed_members_export_*.csv, "
                "unsubscribed_members_export_*.csv, cleaned_members_export_*.csv)",
            )
        for export_file in sorted(files, key=lambda f: (STATUSES.index(f.status), f.path.name)):
            yield from self._read(export_file, named=export_file.status)

    def _read(self, export_file: ExportFile, *, named: Status | None) -> Iterator[MailchimpMember]:
        with CsvTable(export_file.path, COLUMNS, ("email",), export_file.opener) as table:
            status = named or _status_of_columns(table.layout)
            for row in table:
                try:
                    member = self._member(row, status, export_file.path)
                except InputError as exc:
                    if self.strict:
                        raise
                    self._skip(exc)
                    continue
                self.counts[status] += 1
                yield member

    def _member(self, row: CsvRow, status: Status, path: Path) -> MailchimpMember:
        where = Location(path, row.line)
        if row.error:
            raise InputError(where, row.error)
        values = row.values
        # An unsubscribed or cleaned address is looked up, never written to: any address the
        # suppression store takes will do (a cleaned one is often odd).
        try:
            if status == "subscribed":
                email = normalise_address(values["email"])
            elif (found := lenient_address(values["email"])) is not None:
                email = found
            else:
                raise ValueError(f"not a valid address {values['email']!r}")
        except ValueError as exc:
            raise InputError(where, str(exc), "Email Address") from None
        first, last = values.get("first_name", ""), values.get("last_name", "")
        return MailchimpMember(
            email=email,
            status=status,
            path=path,
            line=row.line,
            name=values.get("name") or " ".join(filter(None, (first, last))),
            first_name=first,
            last_name=last,
            language=self._language(values, where),
            tags=split_tags(values.get("tags", "")),
            optin_time=self._time(values, "optin_time", where),
            optin_ip=self._ip(values, "optin_ip", where),
            confirm_time=self._time(values, "confirm_time", where),
            confirm_ip=self._ip(values, "confirm_ip", where),
            last_changed=self._time(values, "last_changed", where),
            status_time=(
                self._time(values, "unsub_time", where) or self._time(values, "clean_time", where)
            ),
            campaign=values.get("unsub_campaign") or values.get("clean_campaign", ""),
            reason=" ".join(filter(None, (
                values.get("unsub_reason", ""), values.get("unsub_reason_other", "")
            ))),
        )

    def _time(self, values: Mapping[str, str], column: str, where: Location) -> datetime | None:
        text = values.get(column, "")
        if not text:
            return None
        try:
            found = datetime.fromisoformat(text)
        except ValueError:
            self._warn(where, column, f"not a time {text!r} (Mailchimp writes "
                       "2024-03-05 10:11:12)")
            return None
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)

    def _ip(self, values: Mapping[str, str], column: str, where: Location) -> str:
        text = values.get(column, "")
        if not text:
            return ""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            self._warn(where, column, f"not an IP address {text!r}")
            return ""

    def _language(self, values: Mapping[str, str], where: Location) -> str:
        text = values.get("language", "").replace("_", "-")
        if text and not is_language_tag(text):
            self._warn(where, "language", f"not a language {text!r} (such as en, tr, pt_BR)")
            return ""
        return text

    def _skip(self, exc: InputError) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_RECORDED:
            reason = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
            self.skipped.append(SkippedRow(Path(exc.location.path), exc.location.line or 0,
                                           reason))

    def _warn(self, where: Location, column: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_RECORDED:
            self.warnings.append(f"{where}: {_HEADER[column]}: {message}; left empty")


def _status_of_name(name: str) -> Status | None:
    match = _EXPORT_FILE.match(name)
    if match is None:
        return None
    status = match.group(1).lower()
    return next(known for known in STATUSES if known == status)


def _status_of_columns(layout: list[str | None]) -> Status:
    """A file named otherwise says what it holds by its columns."""
    if "unsub_time" in layout:
        return "unsubscribed"
    if "clean_time" in layout:
        return "cleaned"
    return "subscribed"


def _folder_files(folder: Path) -> list[ExportFile]:
    return [
        ExportFile(status, path) for path in folder.iterdir()
        if path.is_file() and (status := _status_of_name(path.name)) is not None
    ]


def _zip_files(path: Path, archive: zipfile.ZipFile) -> list[ExportFile]:
    """The export's files in the zip, read where they are (nothing is extracted): a member is
    known by its base name only, whatever folders its name claims."""
    found = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        status = _status_of_name(name)
        if info.is_dir() or status is None:
            continue

        def opener(info: zipfile.ZipInfo = info) -> IO[bytes]:
            return archive.open(info)

        found.append(ExportFile(status, path / name, opener))
    return found


# -- applying the export's suppressions ---------------------------------------------------


def suppression_entries(
    members: Iterable[MailchimpMember], now: float | None = None
) -> Iterator[Entry]:
    """The suppression store's entries for the unsubscribed and cleaned members: unsubscribed
    ones ``unsubscribed``, cleaned ones ``bounced`` (Mailchimp cleans an address that bounced
    for good, or too often), each dated when Mailchimp says it happened, with the reason and
    campaign in its detail and the whole record as its evidence."""
    now = time.time() if now is None else now
    for member in members:
        if member.status == "subscribed":
            continue
        when = member.status_time or member.last_changed
        at = when.timestamp() if when is not None else now
        if member.status == "unsubscribed":
            reason, detail = "unsubscribed", "unsubscribed in Mailchimp"
            if member.reason:
                detail += f": {member.reason}"
        else:
            reason, detail = "bounced", "cleaned by Mailchimp"
        if member.campaign:
            detail += f" (campaign: {member.campaign})"
        yield Entry(
            member.email, reason, SOURCE, None, detail,
            json.dumps(member.as_dict(), ensure_ascii=False), at, at,
        )


@dataclass(frozen=True)
class Suppressed:
    """What :func:`apply_suppressions` did."""

    added: int  # addresses newly suppressed
    already: int  # addresses suppressed before (their first verdict is kept)
    export: MailchimpExport = field(repr=False)  # its skipped rows and warnings


def apply_suppressions(store: SuppressionStore, path: Path, *, strict: bool = False) -> Suppressed:
    """Suppress the unsubscribed and cleaned members of the export at ``path``, in one
    transaction (an InputError in ``strict`` mode adds nothing); erased addresses stay out."""
    export = MailchimpExport(path, strict=strict)
    added, already = store.add_many(suppression_entries(export))
    return Suppressed(added, already, export)
