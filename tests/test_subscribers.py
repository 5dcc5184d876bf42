"""Reading subscribers from the CSV files people export from spreadsheets and mailing tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailer.audience.subscribers import (
    AddressTable,
    Subscriber,
    SubscriberReader,
    normalise_address,
)
from mailer.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "subscribers.example.csv"
HEADER = "email,name,first_name,last_name,language,tags,status\n"


def write(tmp_path: Path, text: str, name: str = "subscribers.csv") -> Path:
    """Write ``text`` byte for byte (no newline translation), as an export would be."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def emails(reader: SubscriberReader) -> list[str]:
    return [subscriber.email for subscriber in reader]


def test_example_file_yields_only_the_subscribed_readers() -> None:
    reader = SubscriberReader(EXAMPLE)
    readers = list(reader)

    assert len(readers) == 11
    assert reader.unsubscribed == 1
    assert "anna.schmidt@example.net" not in [s.email for s in readers]
    assert reader.skipped == [] and reader.duplicates == 0 and reader.warnings == []
    by_email = {s.email: s for s in readers}
    assert by_email["ayse.yilmaz@example.org"] == Subscriber(
        email="ayse.yilmaz@example.org",
        name="Ayşe Yılmaz",
        first_name="Ayşe",
        last_name="Yılmaz",
        language="tr",
        tags=("partners", "ankara"),
        line=2,
    )
    assert by_email["cagri.ozturk@example.com"].first_name == "Çağrı"
    assert by_email["layla.haddad@example.net"].name == "ليلى حداد"
    assert by_email["layla.haddad@example.net"].language == "ar"
    assert by_email["press@example.org"].name == "Press Office, Example News"


def test_merge_data_has_the_merge_fields() -> None:
    subscriber = Subscriber("ayse@example.org", "Ayşe Yılmaz", "Ayşe", "Yılmaz", "tr", ("a",))
    assert subscriber.merge_data() == {
        "email": "ayse@example.org",
        "name": "Ayşe Yılmaz",
        "first_name": "Ayşe",
        "last_name": "Yılmaz",
        "language": "tr",
    }


def test_only_the_email_column_is_needed_and_name_comes_from_first_and_last(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "email,first_name,last_name\nayse@example.org,Ayşe,Yılmaz\n")
    [subscriber] = SubscriberReader(path)
    assert subscriber.name == "Ayşe Yılmaz"
    assert subscriber.status == "subscribed"
    assert subscriber.tags == ()


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff" + HEADER + "ayse@example.org,Ayşe Yılmaz,,,tr,,\n")
    [subscriber] = SubscriberReader(path)
    assert subscriber.email == "ayse@example.org"
    assert subscriber.name == "Ayşe Yılmaz"
    assert subscriber.line == 2


def test_semicolon_separated_export(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email;name;language;tags\n"
        "cagri@example.com;Öztürk, Çağrı;tr;media|istanbul\n"
        "ayse@example.org;Ayşe Yılmaz;tr;\n",
    )
    first, second = SubscriberReader(path)
    assert first.name == "Öztürk, Çağrı"
    assert first.tags == ("media", "istanbul")
    assert second.email == "ayse@example.org"


def test_tab_separated_export(tmp_path: Path) -> None:
    path = write(tmp_path, "email\tname\tstatus\nayse@example.org\tAyşe, Yılmaz\tsubscribed\n")
    [subscriber] = SubscriberReader(path)
    assert subscriber.name == "Ayşe, Yılmaz"


@pytest.mark.parametrize(
    ("header", "row", "field", "value"),
    [
        (" Email ", "ayse@example.org", "email", "ayse@example.org"),
        ("E-mail", "ayse@example.org", "email", "ayse@example.org"),
        ("Email Address", "ayse@example.org", "email", "ayse@example.org"),
        ("MAIL", "ayse@example.org", "email", "ayse@example.org"),
        ("email,First Name", "ayse@example.org,Ayşe", "first_name", "Ayşe"),
        ("email,firstname", "ayse@example.org,Ayşe", "first_name", "Ayşe"),
        ("email,Given name", "ayse@example.org,Ayşe", "first_name", "Ayşe"),
        ("email,FIRST_NAME", "ayse@example.org,Ayşe", "first_name", "Ayşe"),
        ("email,Last name", "ayse@example.org,Yılmaz", "last_name", "Yılmaz"),
        ("email,Surname", "ayse@example.org,Yılmaz", "last_name", "Yılmaz"),
        ("email,Full Name", "ayse@example.org,Ayşe Yılmaz", "name", "Ayşe Yılmaz"),
        ("email,Lang", "ayse@example.org,tr", "language", "tr"),
        ("email,locale", "ayse@example.org,tr", "language", "tr"),
        ("email, Tags ,Status", "ayse@example.org,a|b,Subscribed", "tags", ("a", "b")),
    ],
)
def test_header_names_in_any_case_spacing_or_alias(
    tmp_path: Path, header: str, row: str, field: str, value: object
) -> None:
    reader = SubscriberReader(write(tmp_path, f"{header}\n{row}\n"))
    [subscriber] = reader
    assert getattr(subscriber, field) == value
    assert reader.warnings == []


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "email,fist_name,Created\nayse@example.org,Ayşe,2024-01-01\n")
    reader = SubscriberReader(path)
    [subscriber] = reader
    assert subscriber.first_name == ""
    assert reader.warnings == [f"{path}:1: ignoring columns 'fist_name', 'Created'"]


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\n"  # 1
        + HEADER  # 2
        + "ayse@example.org,,,,,,\n"  # 3
        "\n"  # 4
        ",,,,,,\n"  # 5: an empty spreadsheet row
        "   \n"  # 6
        "cagri@example.com,,,,,,\n"  # 7
        "bad@@example.org,,,,,,\n",  # 8
    )
    reader = SubscriberReader(path)
    assert [(s.email, s.line) for s in reader] == [
        ("ayse@example.org", 3),
        ("cagri@example.com", 7),
    ]
    assert [row.line for row in reader.skipped] == [8]


def test_spaces_around_values_are_trimmed_and_the_address_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + "  Ayse.Yilmaz@EXAMPLE.ORG  ,  Ayşe   Yılmaz ,Ayşe , ,tr , a | b ,\n"
    )
    [subscriber] = SubscriberReader(path)
    assert subscriber.email == "Ayse.Yilmaz@example.org"  # the domain is lower-cased
    assert subscriber.name == "Ayşe Yılmaz"
    assert subscriber.first_name == "Ayşe"
    assert subscriber.last_name == ""
    assert subscriber.language == "tr"
    assert subscriber.tags == ("a", "b")


def test_windows_line_endings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER.replace("\n", "\r\n")
        + "ayse@example.org,Ayşe,,,tr,,subscribed\r\n"
        + "\r\n"
        + "cagri@example.com,Çağrı,,,tr,,subscribed\r\n",
    )
    assert [(s.name, s.status, s.line) for s in SubscriberReader(path)] == [
        ("Ayşe", "subscribed", 2),
        ("Çağrı", "subscribed", 4),
    ]


def test_quoted_values_with_separators_and_line_breaks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + 'press@example.org,"Press Office, Example News",,,en,,\n'  # 2
        + 'ayse@example.org,"Ayşe\nYılmaz",,,tr,,\n'  # 3-4
        + "not-an-address,,,,,,\n",  # 5
    )
    reader = SubscriberReader(path)
    press, ayse = reader
    assert press.name == "Press Office, Example News"
    assert (ayse.name, ayse.line) == ("Ayşe Yılmaz", 3)  # one line, fit for a mail header
    assert [str(row) for row in reader.skipped] == [
        f"{path}:5: email: not a valid address 'not-an-address' "
        "(An email address must have an @-sign.)"
    ]


def test_duplicate_in_other_case_is_kept_once_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "ayse@example.org,Ayşe,,,,,\n"
        + "cagri@example.com,,,,,,\n"
        + "AYSE@Example.ORG,Ayşe again,,,,,\n",
    )
    reader = SubscriberReader(path)
    assert [(s.email, s.name) for s in reader] == [
        ("ayse@example.org", "Ayşe"),
        ("cagri@example.com", ""),
    ]
    assert reader.duplicates == 1
    assert reader.warnings == [
        f"{path}:4: email: 'AYSE@example.org' is already on line 2; row left out"
    ]


def test_unsubscribed_anywhere_in_the_file_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "ayse@example.org,,,,,,subscribed\n" + "Ayse@Example.org,,,,,,Unsubscribed\n",
    )
    reader = SubscriberReader(path)
    assert list(reader) == []
    assert reader.unsubscribed == 1
    assert reader.duplicates == 1
    assert reader.warnings == [
        f"{path}:2: email: 'ayse@example.org' is unsubscribed on line 3; row left out"
    ]


INVALID = (
    HEADER
    + "ayse@example.org,Ayşe,,,,,\n"
    + "\n"
    + 'cagri@example.com,"Öztürk,\nÇağrı",,,,,\n'
    + "ayse@@example.org,Ayşe,,,,,\n"  # line 6
    + "fatma@example.com,Fatma,,,,,\n"
)
INVALID_MESSAGE = (
    "subscribers.csv:6: email: not a valid address 'ayse@@example.org' "
    "(The part after the @-sign contains invalid characters: '@'.)"
)


def test_invalid_address_is_skipped_with_file_line_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    reader = SubscriberReader(Path(write(tmp_path, INVALID).name))
    assert emails(reader) == ["ayse@example.org", "cagri@example.com", "fatma@example.com"]
    assert reader.skipped_count == 1
    [skipped] = reader.skipped
    assert (skipped.line, skipped.reason) == (
        6,
        "email: not a valid address 'ayse@@example.org' "
        "(The part after the @-sign contains invalid characters: '@'.)",
    )
    assert str(skipped) == INVALID_MESSAGE


def test_strict_mode_stops_at_the_first_wrong_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    reader = SubscriberReader(Path(write(tmp_path, INVALID).name), strict=True)
    seen = []
    with pytest.raises(InputError) as caught:
        for subscriber in reader:
            seen.append(subscriber.email)
    assert str(caught.value) == INVALID_MESSAGE
    assert caught.value.location.line == 6
    assert seen == ["ayse@example.org", "cagri@example.com"]


def test_unknown_status_is_a_wrong_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "ayse@example.org,,,,,,pending\ncagri@example.com,,,,,,\n")
    reader = SubscriberReader(path)
    assert emails(reader) == ["cagri@example.com"]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:2: status: unknown status 'pending' "
        "(expected subscribed or unsubscribed; empty means subscribed)"
    ]


def test_row_without_an_address_is_a_wrong_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",Ayşe Yılmaz,,,tr,,\n")
    reader = SubscriberReader(path)
    assert emails(reader) == []
    assert [str(row) for row in reader.skipped] == [f"{path}:2: email: no address"]


def test_wrong_number_of_fields_is_a_wrong_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,language\n"
        "ayse@example.org,Yılmaz, Ayşe,tr\n"
        "cagri@example.com,Çağrı\n"
        "fatma@example.com,Fatma,tr\n",
    )
    reader = SubscriberReader(path)
    assert emails(reader) == ["fatma@example.com"]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:2: expected 3 fields like the header line, found 4 "
        "(a value with a separator in it needs double quotes)",
        f"{path}:3: expected 3 fields like the header line, found 2",
    ]


GOOD_ROWS = "".join(f"reader{n}@example.org,Reader {n},tr\n" for n in range(5))


def test_an_unclosed_quote_costs_its_row_only(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,name,language\nayse@example.org,"Ayşe,tr\n' + GOOD_ROWS)
    reader = SubscriberReader(path)
    assert emails(reader) == [f"reader{n}@example.org" for n in range(5)]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:2: a double quote is left open: the row runs to the end of the file"
    ]


def test_a_quote_closed_rows_later_costs_its_row_only(tmp_path: Path) -> None:
    # Without strict quoting, line 2's quote would end at line 4's and swallow line 3.
    path = write(
        tmp_path,
        "email,name,language\n"
        'ayse@example.org,"Ayşe,tr\n'  # 2
        "cagri@example.com,Çağrı,tr\n"  # 3
        'fatma@example.com,"Fatma",tr\n',  # 4
    )
    reader = SubscriberReader(path)
    assert emails(reader) == ["cagri@example.com", "fatma@example.com"]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:2: cannot read the row: ',' expected after '\"' on line 4 "
        "(is a double quote left open?)"
    ]


def test_a_value_over_the_csv_size_limit_costs_its_row_only(tmp_path: Path) -> None:
    huge = "x" * 200_000  # 200 kB; the csv module reads values up to 131,072 characters
    path = write(
        tmp_path,
        f"email,name,language\nfirst@example.org,F,tr\nhuge@example.org,{huge},tr\n{GOOD_ROWS}",
    )
    reader = SubscriberReader(path)
    assert emails(reader) == ["first@example.org"] + [f"reader{n}@example.org" for n in range(5)]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:3: cannot read the row: field larger than field limit (131072)"
    ]


def test_strict_mode_stops_at_a_row_that_cannot_be_read(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,name,language\nayse@example.org,"Ayşe,tr\n' + GOOD_ROWS)
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path, strict=True))
    assert str(caught.value) == (
        f"{path}:2: a double quote is left open: the row runs to the end of the file"
    )


def test_an_unreadable_header_line_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,"name\nayse@example.org,Ayşe\n')
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path))
    assert str(caught.value) == (
        f"{path}:1: a double quote is left open: the row runs to the end of the file"
    )


def test_missing_email_column_names_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "Name;Mail Adresi;Dil\nAyşe;ayse@example.org;tr\n")
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path))
    assert str(caught.value) == (
        f"{path}:1: no 'email' column (found 'Name', 'Mail Adresi', 'Dil'; "
        "accepted names: email, e-mail, email address, e-mail address, mail)"
    )


def test_two_columns_meaning_the_same_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Email,E-mail\nayse@example.org,ayse@example.com\n")
    with pytest.raises(InputError, match=r":1: columns 'Email' and 'E-mail' both mean email"):
        list(SubscriberReader(path))


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\r\n  \n"])
def test_empty_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path))
    assert str(caught.value) == (
        f"{path}: the file is empty; its first line should name the columns, "
        "such as email,name,first_name,last_name,language,tags,status"
    )


def test_header_only_yields_nothing(tmp_path: Path) -> None:
    reader = SubscriberReader(write(tmp_path, HEADER))
    assert list(reader) == []
    assert reader.skipped == [] and reader.unsubscribed == 0


def test_missing_file_is_an_input_error_like_other_file_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path))
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"{path}: cannot read file (No such file or directory)"


def test_file_not_in_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(
        (HEADER + "ayse@example.org,Ayşe,,,,,\ncagri@example.com,Çağrı,,,,,\n").encode("cp1254")
    )
    with pytest.raises(InputError) as caught:
        list(SubscriberReader(path))
    assert str(caught.value) == (
        f"{path}:2: the file is not UTF-8 text (byte 0xfe); "
        "save it from the spreadsheet as 'CSV UTF-8'"
    )


def test_skipped_rows_and_warnings_are_bounded_but_counted(tmp_path: Path) -> None:
    bad = "".join(f"user{n}@@example.org,,,,,,\n" for n in range(1005))
    dup = "".join("ayse@example.org,,,,,,\n" for _ in range(1002))
    reader = SubscriberReader(write(tmp_path, HEADER + bad + dup))
    assert emails(reader) == ["ayse@example.org"]
    assert (len(reader.skipped), reader.skipped_count) == (1000, 1005)
    assert (len(reader.warnings), reader.warning_count, reader.duplicates) == (1000, 1001, 1001)


def test_iterating_again_starts_the_counts_afresh(tmp_path: Path) -> None:
    reader = SubscriberReader(write(tmp_path, HEADER + "a@example.org,,,,,,\nb@@x,,,,,,\n"))
    assert emails(reader) == emails(reader) == ["a@example.org"]
    assert reader.skipped_count == 1 and reader.subscribed == 1


# Reads a CSV whole in a fresh interpreter and prints the peak resident memory (KiB) before and
# after. Normalising an address keeps nothing per address and every other test runs it, so here
# the address is taken as it is: the question is what the reader keeps.
PEAK_AFTER_READING = """
import resource, sys
from mailer.audience import subscribers

subscribers.normalise_address = lambda address, smtputf8=True: address
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
small, large = sys.argv[1:3]
sum(1 for _ in subscribers.SubscriberReader(small))
before = peak()
reader = subscribers.SubscriberReader(large)
count = sum(1 for _ in reader)
print(before, peak(), count, reader.unsubscribed)
"""


def write_rows(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        for n in range(rows):
            status = "unsubscribed" if n % 100 == 0 else ""
            file.write(f"reader{n}@example.org,Reader {n},Reader,{n},tr,partners|izmir,{status}\n")
    return path


@pytest.mark.slow
def test_100k_rows_are_read_with_flat_memory(tmp_path: Path) -> None:
    rows = 100_000
    small = write_rows(tmp_path / "small.csv", 1_000)
    large = write_rows(tmp_path / "big.csv", rows)
    done = subprocess.run([sys.executable, "-c", PEAK_AFTER_READING, str(small), str(large)],
                          capture_output=True, text=True, check=True)
    before, after, count, unsubscribed = map(int, done.stdout.split())

    assert (count, unsubscribed) == (rows - rows // 100, rows // 100)
    # What grows is the duplicate check: 12 bytes a slot, at most half full, so 262,144 slots
    # (3 MiB) for 100,000 addresses, plus the 1.5 MiB table it grows from while that is copied;
    # the rest (file buffer, one row) is a few KiB. Keeping the rows would take about 35 MiB;
    # even a Python set of the digests would take 9 MiB.
    grown = (after - before) / 1024
    assert grown < 6, f"the peak grew by {grown:.1f} MiB reading {rows:,} rows"


def test_the_duplicate_check_is_sized_once_and_never_grows() -> None:
    """Sized from the first pass's row count, it holds every address without a copy."""
    for expected in (0, 1, 767, 768, 1000, 12_345):
        table = AddressTable(expected=expected)
        size = len(table._keys)
        for key in range(1, expected + 1):
            table.setdefault(key * 2654435761, key)
        assert len(table._keys) == size, expected
        assert len(table) == expected


def test_an_address_the_transport_cannot_carry_is_a_wrong_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER
                 + "ünï@example.org,Ünï,,,,,\n"
                 + "ayse@bücher.example,Ayşe,,,,,\n"  # a non-ASCII domain travels as IDNA
                 + "gone.ünï@example.org,Gone,,,,,unsubscribed\n")
    reader = SubscriberReader(path, smtputf8=False)
    assert emails(reader) == ["ayse@bücher.example"]
    assert [str(row) for row in reader.skipped] == [
        f"{path}:2: email: 'ünï@example.org' has characters other than ASCII before the @, "
        "which this send's transport cannot carry (it would need SMTPUTF8)"
    ]
    assert reader.unsubscribed == 1  # never written to: not a wrong row, whatever the transport
    assert emails(SubscriberReader(path)) == ["ünï@example.org", "ayse@bücher.example"]
    with pytest.raises(InputError, match=f"{path}:2: email: 'ünï@example.org' has characters"):
        emails(SubscriberReader(path, smtputf8=False, strict=True))


ADDRESSES = [
    "reader0@example.org", "Reader.Zero@Example.ORG", "a!#$%&'*+/=?^_`{|}~-b@example.org",
    "Postmaster@Example.org", "INFO@example.org", "x@xn--bcher-kva.example", "x@bücher.example",
    "x" * 64 + "@example.org", "x" * 65 + "@example.org",
    "x@" + "a" * 63 + ".example.org", "x@" + "a" * 64 + ".example.org",
    "x" * 60 + "@" + ".".join(["b" * 60] * 3) + ".org",  # 249 octets
    "x" * 64 + "@" + ".".join(["b" * 61] * 3) + ".org",  # 256: too long
    "x@localhost", "x@example.test", "x@example.invalid", "x@mail.local", "x@example.onion",
    "x@example", "x@-example.org", "x@example-.org", "x@ex_ample.org", "x@example.o",
    "x@example.123", ".x@example.org", "x.@example.org", "x..y@example.org",
    "x@@example.org", "x y@example.org", '"x y"@example.org', "Name <x@example.org>",
    "x@[192.0.2.1]", "ünï@example.org", "x@EXAMPLE.org", "x@example.org.",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_normalised_as_email_validator_does(address: str) -> None:
    """The reader's way around email-validator for plain addresses gives its very answer."""
    from email_validator import EmailNotValidError, validate_email

    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
        error = None
    except EmailNotValidError as exc:
        expected, error = None, f"not a valid address {address!r} ({exc})"
    for _ in range(2):  # the first time checks the domain, the second remembers it
        if expected is None:
            with pytest.raises(ValueError) as caught:
                normalise_address(address)
            assert str(caught.value) == error
        else:
            assert normalise_address(address) == expected
