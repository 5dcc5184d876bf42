"""Subscribers from a CSV file, read as a stream.

The file has a header line; ``subscribers.example.csv`` shows the columns::

    email,name,first_name,last_name,language,tags,status

Only ``email`` is required. ``tags`` holds several tags separated by ``|`` (``partners|ankara``):
not ``;``, because ``;`` is the column separator of spreadsheet exports in Turkish and most
European locales; a comma list as Mailchimp writes it (``"partners, ankara"``, or each tag in
double quotes) is read too (:func:`split_tags`). A row's tags are the topics its reader
follows (``[list.topics]``, an issue's ``audience:``). ``status`` is ``subscribed`` (also when
empty) or ``unsubscribed``.

Spreadsheet exports are taken as they come: a UTF-8 byte order mark, ``,`` ``;`` or tab as the
separator, header names in any case and spacing or under a common alias (``E-mail``,
``First name``, ``Surname``, ...), blank lines, stray spaces and Windows line endings. A row that
cannot be read (a value over 131,072 characters, a double quote left open) is one wrong row: the
rows after it are still read.

Rows are read one at a time and never kept; to drop repeated addresses the reader remembers
only a 64-bit digest and a line number per address (about 13 bytes each).
"""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, TextIO

from mailer.console import count
from mailer.errors import InputError, Location
from mailer.fields import SUBSCRIBER_FIELDS
from mailer.textfiles import first_line_not_utf8

if TYPE_CHECKING:
    from email_validator import ValidatedEmail

STATUSES = ("subscribed", "unsubscribed")
MAX_RECORDED = 1000  # skipped rows and warnings kept for the report; the counts go on

EMAIL_ALIASES = ("email", "e-mail", "email address", "e-mail address", "mail")
SUBSCRIBER_COLUMNS: Mapping[str, Sequence[str]] = {
    "email": EMAIL_ALIASES,
    "name": ("name", "full name", "fullname"),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "language": ("language", "lang", "locale"),
    "tags": ("tags", "tag"),
    "status": ("status",),
}
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class Subscriber:
    email: str  # email-validator's normalised form: domain lower-cased, Unicode NFC
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    tags: tuple[str, ...] = ()
    status: str = "subscribed"  # "subscribed" | "unsubscribed"
    line: int = 0  # where the row starts in the CSV file, for messages (0: a sign-up)
    # The topics the reader chose (sign-up form, preference page), which override the CSV's
    # tags for them; None: they never chose (mailer.audience.signups).
    chosen_topics: tuple[str, ...] | None = None
    source: str | None = None  # "signup": a confirmed sign-up not in the CSV; None: a CSV row

    def merge_data(self) -> dict[str, str]:
        """The values of the ``{{ subscriber.* }}`` merge fields."""
        return {field: getattr(self, field) for field in SUBSCRIBER_FIELDS}

    @property
    def topics(self) -> frozenset[str]:
        """The names of the topics the reader follows: those they chose, else the row's tags."""
        return frozenset(self.tags if self.chosen_topics is None else self.chosen_topics)


def split_tags(text: str) -> tuple[str, ...]:
    """The tags of a ``tags`` cell, each once, in order: separated by ``|`` (``partners|ankara``)
    or by commas, as Mailchimp writes them (``partners, ankara``, or ``"partners","ankara"``
    with each tag in double quotes, which may then hold a comma of its own)."""
    if '"' not in text:  # the common case: plain splits, a few times cheaper than the csv module
        tags = text.replace(",", "|").split("|") if "," in text else text.split("|")
    else:
        tags = []
        for part in text.split("|"):
            line = " ".join(part.split())
            try:
                tags.extend(next(csv.reader([line], skipinitialspace=True), []))
            except csv.Error:  # a stray double quote: the commas alone separate
                tags.extend(line.split(","))
    return tuple(dict.fromkeys(tag.strip() for tag in tags if tag and not tag.isspace()))


@dataclass(frozen=True, slots=True)
class SampleReader:
    """The subscriber a preview and the checks personalise the issue for."""

    email: str = "reader@example.org"
    name: str = "Ayşe Yılmaz"
    first_name: str = "Ayşe"
    last_name: str = "Yılmaz"
    language: str = "tr"

    def merge_data(self) -> dict[str, str]:
        return {field: getattr(self, field) for field in SUBSCRIBER_FIELDS}


@dataclass(frozen=True)
class SkippedRow:
    """A row left out because it is wrong; ``str()`` reads ``file:line: field: reason``."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{Location(self.path, self.line)}: {self.reason}"


def validate_email(address: str, *, check_deliverability: bool) -> ValidatedEmail:
    """email-validator's verdict, imported on first use: it (with its DNS library) costs
    ~40 ms of start-up that ``mailer preview`` and ``mailer status`` never need."""
    from email_validator import validate_email as validate

    return validate(address, check_deliverability=check_deliverability)


def normalise_address(address: str, *, smtputf8: bool = True) -> str:
    """``address`` as email-validator normalises it; ValueError tells the user what is wrong.

    Without ``smtputf8`` (the transport cannot carry it), an address with characters other
    than ASCII before the @ is wrong too; the domain may be any: it travels as IDNA.
    """
    if not address:
        raise ValueError("no address")
    normalised = _plain_address(address)
    if normalised is None:
        from email_validator import EmailNotValidError

        try:
            normalised = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"not a valid address {address!r} ({exc})") from None
    if not smtputf8 and not normalised.rpartition("@")[0].isascii():
        raise ValueError(
            f"{address!r} has characters other than ASCII before the @, which this send's "
            "transport cannot carry (it would need SMTPUTF8)"
        )
    return normalised


# A plain ASCII address: dot-atom local part, a domain of dotted labels. For such an address
# email-validator would only lower-case the domain, at ~40 µs an address: a SendGrid batch's
# whole budget when the addresses come from a webhook or a bounce report.
_PLAIN_ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# RFC 2142's mailbox names, which email-validator lower-cases.
_ROLE_NAMES = frozenset({
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
    "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp",
})
MAX_ADDRESS = 254  # octets (RFC 5321 4.5.3.1.3), counted as email-validator counts them
# Each domain email-validator was asked about, with what it made of it (as written, as IDNA),
# or None if it refused it: a list has few domains, and each is checked once.
_DOMAINS: dict[str, tuple[str, str] | None] = {}
MAX_DOMAINS = 10_000  # remembered at most (a list whose every reader has a domain of their own)


def _plain_address(address: str) -> str | None:
    """``address`` normalised as email-validator does it, without its ~40 µs an address, when
    it is a plain ASCII address (:data:`_PLAIN_ADDRESS`); None for any other, which
    email-validator then checks whole (and says what is wrong with it).

    What email-validator checks after the @ does not depend on what is before it, so each
    domain is checked once, in a stand-in address. Before the @, a plain address is a
    dot-atom, which it keeps as it is, except RFC 2142's names, which it lower-cases (those go
    the whole way); left is the length, counted here as it counts it.
    """
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if plain is None:
        return None
    local, domain = plain.groups()
    if local.lower() in _ROLE_NAMES:
        return None
    if domain in _DOMAINS:
        known = _DOMAINS[domain]
    else:
        from email_validator import EmailNotValidError

        try:
            checked = validate_email(f"x@{domain}", check_deliverability=False)
            known = (checked.domain, checked.ascii_domain)
        except EmailNotValidError:
            known = None
        if len(_DOMAINS) < MAX_DOMAINS:
            _DOMAINS[domain] = known
    if known is None:
        return None
    normalised = f"{local}@{known[0]}"
    longest = max(len(address), len(normalised.encode("utf-8")), len(local) + 1 + len(known[1]))
    return normalised if longest <= MAX_ADDRESS else None


def lenient_address(text: str) -> str | None:
    """``text`` normalised as :func:`normalise_address` does, or None if it is not an address.

    For addresses that other systems report (webhooks, bounces, imports), which are looked up
    rather than written to: a plain ASCII one is taken without email-validator's full checks.
    """
    text = text.strip()
    plain = _PLAIN_ADDRESS.fullmatch(text)
    if plain and len(plain.group(1)) <= 64:
        return f"{plain.group(1)}@{plain.group(2).lower()}"
    try:
        return normalise_address(text)
    except ValueError:
        return None


def address_key(normalised: str) -> int:
    """A 64-bit digest identifying a normalised address, whatever its case.

    Two different addresses get the same key with odds of about n²/2⁶⁵ for n addresses
    (3 in 10 billion for 100,000).
    """
    digest = blake2b(normalised.lower().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1  # 0 marks an empty slot in AddressTable


class AddressTable:
    """Address keys with the line each was first seen on, in two flat arrays.

    Open addressing with linear probing, at most nine tenths full: 12 bytes a slot, 13.3 an
    address, where a ``dict`` of int objects takes about 120. Sized up front for the expected
    number of addresses (the reader counts the rows in its first pass), it never has to grow,
    so a million addresses take 13.3 MB and no copy of it is ever made. So full only as the
    last addresses go in: a new key costs 5.5 probes on average over a whole read (2.5 at three
    quarters full, which took 16 MB a million, most of a send's memory beyond its imports).
    """

    MAX_LOAD = 0.9
    # For a table asked mostly about keys it does not hold (the suppressions, the sign-ups,
    # checked for every reader): a miss costs ~8.5 probes at three quarters full, ~50 at nine
    # tenths.
    LOOKUP_LOAD = 0.75

    def __init__(self, expected: int = 0, *, load: float = MAX_LOAD) -> None:
        # Room for one more than expected: growing as the last address goes in would double
        # the table (and copy it) at the very end of a read.
        size = max(1024, math.ceil((expected + 1) / load))
        self._load = load
        self._keys = array("Q", [0]) * size  # 0 marks a free slot
        self._lines = array("I", [0]) * size
        self._size = size
        self._room = int(size * load)  # keys that fit before the table must grow

    def get(self, key: int) -> int | None:
        """The line stored for ``key``, if any."""
        slot, found = self._find(key)
        return self._lines[slot] if found else None

    def setdefault(self, key: int, line: int) -> int:
        """The line stored for ``key``; stores ``line`` first if there is none."""
        slot, found = self._find(key)
        if found:
            return self._lines[slot]
        self._keys[slot] = key
        self._lines[slot] = line
        self._room -= 1
        if not self._room:
            self._grow()
        return line

    def put(self, key: int, line: int) -> None:
        """Store ``line`` for ``key``, in place of any there."""
        if self.setdefault(key, line) != line:
            self._lines[self._find(key)[0]] = line

    def _find(self, key: int) -> tuple[int, bool]:
        """The slot that holds ``key``, or the free one where it belongs."""
        keys, size = self._keys, self._size
        slot = key % size
        while (held := keys[slot]) and held != key:
            slot = slot + 1 if slot + 1 < size else 0
        return slot, bool(held)

    def _grow(self) -> None:
        """More addresses than expected (the file changed between the passes): double."""
        bigger = AddressTable(2 * len(self), load=self._load)
        for key, line in zip(self._keys, self._lines, strict=True):
            if key:
                bigger.setdefault(key, line)
        self._keys, self._lines = bigger._keys, bigger._lines
        self._size, self._room = bigger._size, bigger._room

    def __len__(self) -> int:
        return int(self._size * self._load) - self._room


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line: int  # physical line the row starts on
    fields: list[str]  # as the csv module splits them; empty when the row cannot be read
    error: str | None = None  # why the row cannot be used (unreadable, wrong number of fields)


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # physical line the row starts on
    values: dict[str, str]  # known column -> value, white space trimmed and collapsed
    error: str | None = None  # the row cannot be read (see CsvRecord.error)


class _Lines:
    """A file's physical lines as the csv reader takes them, numbered from 1.

    The lines of the row being read are kept, so that all but the first can be read again: a
    double quote left open swallows the lines after it into one value.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._count = 0
        self._again: list[tuple[int, str]] = []  # lines to read again, the next one last
        self.taken: list[tuple[int, str]] = []  # (number, text) of the row being read
        self.ended = False  # the row being read ran into the end of the file

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.pop()
        else:
            line = self._file.readline()
            if not line:
                self.ended = True
                raise StopIteration
            self._count += 1
            number = self._count
        self.taken.append((number, line))
        return line

    def next_row(self) -> None:
        self.taken.clear()
        self.ended = False

    def read_again(self) -> None:
        """The lines of this row after its first are read next, as rows of their own."""
        self._again.extend(reversed(self.taken[1:]))


class CsvTable:
    """A spreadsheet export with a header line, read row by row (a context manager).

    ``columns`` maps each known column to the header names accepted for it, compared in lower
    case with ``_`` read as a space; other columns are listed in ``ignored``. The separator is
    whichever of ``,`` ``;`` and tab the header line has most of. ``opener`` gives the bytes
    of a file that is not on disk (a member of a zip), which messages name ``path``.
    """

    def __init__(
        self, path: Path, columns: Mapping[str, Sequence[str]], required: Sequence[str],
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        self.path = path
        self._opener = opener
        self.delimiter = ","
        self.header_line = 0
        self.layout: list[str | None] = []  # known column of each field, None if ignored
        self.ignored: list[str] = []
        self._columns = columns
        self._required = required
        self._file: TextIO | None = None
        self._lines = _Lines(io.StringIO())
        self._reader = csv.reader(self._lines)

    def __enter__(self) -> CsvTable:
        try:
            if self._opener is None:
                self._file = open(self.path, encoding="utf-8-sig", newline="")
            else:
                self._file = io.TextIOWrapper(self._opener(), encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputError(Location(self.path), f"cannot read file ({exc.strerror})") from None
        try:
            self._read_header(self._file)
        except BaseException:
            self._file.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()

    def __iter__(self) -> Iterator[CsvRow]:
        known = [(index, column) for index, column in enumerate(self.layout) if column]
        for record in self.records():
            if record.error:
                yield CsvRow(record.line, {}, record.error)
                continue
            values = {}
            for index, column in known:
                value = record.fields[index].strip()
                if not value.isprintable() or "  " in value:  # line breaks, tabs, runs of spaces
                    value = " ".join(value.split())
                values[column] = value
            yield CsvRow(record.line, values)

    def _read_header(self, file: TextIO) -> None:
        self.delimiter = self._sniff(file)
        self._lines = _Lines(file)
        # strict: a double quote closed in the middle of a value is an error, not text that
        # silently joins the rows up to the next double quote into one.
        self._reader = csv.reader(self._lines, delimiter=self.delimiter, strict=True)
        for record in self.records():
            if record.error:
                raise InputError(Location(self.path, record.line), record.error)
            self.header_line = record.line
            self._map_header(record.fields)
            return
        raise InputError(
            Location(self.path),
            f"the file is empty; its first line should name the columns, "
            f"such as {','.join(self._columns)}",
        )

    def _sniff(self, file: TextIO) -> str:
        try:
            header = next((line for line in iter(file.readline, "") if line.strip()), "")
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None
        file.seek(0)  # back to the start, to count lines from 1 (the BOM is skipped again)
        return max(_DELIMITERS, key=header.count)  # ties (no separator at all) go to ","

    def _map_header(self, names: list[str]) -> None:
        lookup = {alias: column for column, aliases in self._columns.items() for alias in aliases}
        where = Location(self.path, self.header_line)
        seen: dict[str, str] = {}
        for name in names:
            column = lookup.get(" ".join(name.replace("_", " ").split()).lower())
            self.layout.append(column)
            if column is None:
                if name.strip():
                    self.ignored.append(name.strip())
            elif column in seen:
                raise InputError(
                    where, f"columns {seen[column]!r} and {name!r} both mean {column}; keep one"
                )
            else:
                seen[column] = name
        for column in self._required:
            if column not in seen:
                found = ", ".join(repr(name) for name in names)
                accepted = ", ".join(self._columns[column])
                raise InputError(
                    where, f"no {column!r} column (found {found}; accepted names: {accepted})"
                )

    def records(self) -> Iterator[CsvRecord]:
        """Each row that is not blank; after the header line, checked for its number of fields.

        A row that cannot be used (the csv module cannot read it, or it has the wrong number of
        fields) comes with an ``error``; when it ran over several lines, the lines after its
        first are read again as rows of their own, so that one double quote left open costs
        one row, not every row up to the next double quote or the end of the file.
        """
        lines, reader, width = self._lines, self._reader, len(self.layout)
        while True:
            lines.next_row()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                first, end = lines.taken[0][0], lines.taken[-1][0]
                lines.read_again()
                yield CsvRecord(first, [], _unreadable(str(exc), first, end, lines.ended))
                continue
            except UnicodeDecodeError as exc:
                raise self._not_utf8(exc) from None
            text = "".join(fields)
            if not text or text.isspace():  # also skips rows of bare separators
                continue
            first, end = lines.taken[0][0], lines.taken[-1][0]
            if width and len(fields) != width:
                lines.read_again()
                yield CsvRecord(first, [], _field_count_error(width, len(fields), first, end))
            else:
                yield CsvRecord(first, fields)

    def _not_utf8(self, exc: UnicodeDecodeError) -> InputError:
        return InputError(
            Location(self.path, first_line_not_utf8(self._opener or self.path)),
            f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it from the "
            "spreadsheet as 'CSV UTF-8'",
        )


def _unreadable(problem: str, line: int, end: int, at_end_of_file: bool) -> str:
    if at_end_of_file:
        return "a double quote is left open: the row runs to the end of the file"
    if end > line:
        return f"cannot read the row: {problem} on line {end} (is a double quote left open?)"
    return f"cannot read the row: {problem}"


def _field_count_error(expected: int, found: int, line: int, end: int) -> str:
    message = f"expected {count(expected, 'field')} like the header line, found {found}"
    if end > line:
        return f"{message} (the row runs to line {end}: is a double quote left open?)"
    if found > expected:
        return f"{message} (a value with a separator in it needs double quotes)"
    return message


class SubscriberReader:
    """The subscribers to write to, read from a CSV file as they are needed.

    Iterating yields each valid, subscribed address once, in file order, and never one that
    the file also marks unsubscribed (wherever that row is; a quick first pass finds those).
    A wrong row raises InputError when ``strict``, and is otherwise recorded in ``skipped``.
    Without ``smtputf8`` (the transport of the send cannot carry it), a reader whose address
    has characters other than ASCII before the @ is a wrong row like any other: a dry run and
    a send leave out the same rows, and know it before anything connects.
    Counts and lists are complete once iteration ends, and reset when it starts again.
    """

    def __init__(self, path: Path, *, strict: bool = False, smtputf8: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.smtputf8 = smtputf8
        self._reset()

    def _reset(self) -> None:
        self.subscribed = 0  # yielded
        self.unsubscribed = 0  # rows with status unsubscribed
        self.duplicates = 0  # rows dropped for an address already seen or unsubscribed
        self.skipped: list[SkippedRow] = []  # the first MAX_RECORDED wrong rows
        self.skipped_count = 0
        self.warnings: list[str] = []  # the first MAX_RECORDED warnings
        self.warning_count = 0
        self.unsubscribed_keys = AddressTable(load=AddressTable.LOOKUP_LOAD)  # marked unsubscribed

    def __iter__(self) -> Iterator[Subscriber]:
        self._reset()
        unsubscribed, rows = self._first_pass()
        self.unsubscribed_keys = unsubscribed  # for the sign-ups read after the file
        seen = AddressTable(expected=rows)
        with CsvTable(self.path, SUBSCRIBER_COLUMNS, required=("email",)) as table:
            if table.ignored:
                self._warn(
                    f"{Location(self.path, table.header_line)}: ignoring columns "
                    f"{', '.join(repr(name) for name in table.ignored)}"
                )
            for row in table:
                try:
                    subscriber = self._subscriber(row)
                except InputError as exc:
                    if self.strict:
                        raise
                    self._skip(exc)
                    continue
                if subscriber.status == "unsubscribed":
                    self.unsubscribed += 1
                    continue
                key = address_key(subscriber.email)
                if (line := unsubscribed.get(key)) is not None:
                    self._duplicate(subscriber, f"is unsubscribed on line {line}")
                elif (line := seen.setdefault(key, row.line)) != row.line:
                    self._duplicate(subscriber, f"is already on line {line}")
                else:
                    self.subscribed += 1
                    yield subscriber

    def _first_pass(self) -> tuple[AddressTable, int]:
        """Where the file marks an address unsubscribed, and how many rows it has (to size the
        duplicate check). Wrong rows are reported in the second pass."""
        found = AddressTable(load=AddressTable.LOOKUP_LOAD)
        rows = 0
        with CsvTable(self.path, SUBSCRIBER_COLUMNS, required=("email",)) as table:
            email = table.layout.index("email")
            status = table.layout.index("status") if "status" in table.layout else None
            for record in table.records():
                rows += 1
                fields = record.fields
                if (
                    status is None or record.error
                    or fields[status].strip().lower() != "unsubscribed"
                ):
                    continue
                try:
                    key = address_key(normalise_address(fields[email].strip()))
                except ValueError:
                    continue
                found.setdefault(key, record.line)
        return found, rows

    def _subscriber(self, row: CsvRow) -> Subscriber:
        if row.error:
            raise InputError(Location(self.path, row.line), row.error)
        values = row.values
        status = values.get("status", "").lower() or "subscribed"
        try:
            # An unsubscribed reader is written to by no transport: any valid address will do.
            carried = self.smtputf8 or status == "unsubscribed"
            email = normalise_address(values["email"], smtputf8=carried)
        except ValueError as exc:
            raise InputError(Location(self.path, row.line), str(exc), "email") from None
        if status not in STATUSES:
            raise InputError(
                Location(self.path, row.line),
                f"unknown status {values['status']!r} "
                "(expected subscribed or unsubscribed; empty means subscribed)",
                "status",
            )
        first_name = values.get("first_name", "")
        last_name = values.get("last_name", "")
        return Subscriber(
            email=email,
            name=values.get("name") or " ".join(filter(None, (first_name, last_name))),
            first_name=first_name,
            last_name=last_name,
            language=values.get("language", ""),
            tags=split_tags(values.get("tags", "")),
            status=status,
            line=row.line,
        )

    def _skip(self, exc: InputError) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_RECORDED:
            reason = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
            self.skipped.append(SkippedRow(self.path, exc.location.line or 0, reason))

    def _duplicate(self, subscriber: Subscriber, why: str) -> None:
        self.duplicates += 1
        where = Location(self.path, subscriber.line)
        self._warn(f"{where}: email: {subscriber.email!r} {why}; row left out")

    def _warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_RECORDED:
            self.warnings.append(message)
