"""A Mailchimp audience export (tests/fixtures/mailchimp, as Mailchimp writes it) read into
records, from its folder or its zip, and its unsubscribed and cleaned members suppressed."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailer.audience.mailchimp import SOURCE, MailchimpExport, MailchimpMember, apply_suppressions
from mailer.audience.store import SuppressionStore
from mailer.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "mailchimp"
SUBSCRIBED = "subscribed_members_export_4f2b9c1d0e.csv"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def by_address(export: MailchimpExport) -> dict[str, MailchimpMember]:
    return {member.email: member for member in export}


def export_zip(tmp_path: Path, folder: str = "", bom: bool = False) -> Path:
    """The fixture's files zipped, as Mailchimp's "Export audience" downloads them (``bom``:
    each with a byte order mark, as a spreadsheet saving it again writes)."""
    path = tmp_path / "members_export_4f2b9c1d0e.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for csv_file in sorted(FIXTURES.glob("*.csv")):
            archive.writestr(folder + csv_file.name,
                             b"\xef\xbb\xbf" * bom + csv_file.read_bytes())
    return path


def test_the_export_reads_with_tags_split_and_consent_kept() -> None:
    export = MailchimpExport(FIXTURES)
    members = by_address(export)
    assert export.counts == {"subscribed": 4, "unsubscribed": 2, "cleaned": 1}

    ayse = members["ayse.yilmaz@example.org"]
    assert (ayse.status, ayse.name, ayse.language) == ("subscribed", "Ayşe Yılmaz", "tr")
    assert ayse.tags == ("Partners", "Ankara")  # "Partners, Ankara"
    assert ayse.optin_time == utc("2024-03-05 10:11:12")
    assert ayse.confirm_time == utc("2024-03-05 10:14:40")
    assert (ayse.optin_ip, ayse.confirm_ip) == ("203.0.113.7", "203.0.113.7")
    assert ayse.location.line == 2 and ayse.path == FIXTURES / SUBSCRIBED

    layla = members["layla.haddad@example.net"]  # added, not signed up: no opt-in time
    assert (layla.optin_time, layla.confirm_time) == (None, utc("2023-11-20 09:00:00"))
    assert layla.tags == ("Partners",) and layla.language == "ar"

    sarah = members["sarah.wilson@example.org"]  # each tag in double quotes, one with a comma
    assert sarah.tags == ("Donors", "Partner news, 2024")
    assert (sarah.language, sarah.optin_ip) == ("en-GB", "2001:db8::5")

    omar = members["omar.khalil@example.net"]
    assert omar.status == "unsubscribed" and omar.status_time == utc("2024-04-02 18:22:51")
    assert omar.reason == "I no longer want to receive these emails"
    assert omar.campaign == "April 2024 newsletter"
    assert omar.optin_time == utc("2023-09-01 07:30:00")  # the consent stays on record
    assert members["anna.schmidt@example.net"].reason == "Other Too many emails"

    mehmet = members["mehmet.demir@example.org"]
    assert (mehmet.status, mehmet.status_time) == ("cleaned", utc("2024-03-06 02:10:33"))
    assert mehmet.campaign == "March 2024 newsletter"


def test_wrong_rows_and_values_are_located_and_nothing_is_neutralised() -> None:
    export = MailchimpExport(FIXTURES)
    members = by_address(export)
    where = FIXTURES / SUBSCRIBED
    assert [str(row) for row in export.skipped] == [
        f"{where}:5: Email Address: not a valid address 'not-an-address' (An email address "
        "must have an @-sign.)"
    ]
    assert export.warnings == [
        f"{where}:6: OPTIN_TIME: not a time '05/03/2024 10:11' (Mailchimp writes "
        "2024-03-05 10:11:12); left empty",
        f"{where}:6: CONFIRM_IP: not an IP address 'not-an-ip'; left empty",
    ]
    jean = members["jean.dupont@example.com"]
    assert jean.first_name == '=HYPERLINK("https://example.com/x","Jean")'  # as written
    assert (jean.optin_time, jean.confirm_ip, jean.optin_ip) == (None, "", "198.51.100.23")
    with pytest.raises(InputError, match=rf"{SUBSCRIBED}:5: Email Address: not a valid"):
        list(MailchimpExport(FIXTURES, strict=True))


def test_the_zip_reads_as_its_files_without_extracting_them(tmp_path: Path) -> None:
    # Folders in a member's name (even ones that climb out) name nothing: its base name counts.
    path = export_zip(tmp_path, folder="../../export/", bom=True)
    export = MailchimpExport(path)
    members = list(export)
    assert [(m.email, m.status, m.tags) for m in members] == [
        (m.email, m.status, m.tags) for m in MailchimpExport(FIXTURES)
    ]
    assert str(export.skipped[0]).startswith(f"{path / SUBSCRIBED}:5: Email Address:")
    assert sorted(p.name for p in tmp_path.rglob("*")) == [path.name]


def test_a_zip_without_an_export_or_with_a_file_not_utf8_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "not an export")
    with pytest.raises(InputError, match="no Mailchimp export files in it"):
        list(MailchimpExport(empty))
    latin = tmp_path / "latin.zip"
    text = (FIXTURES / SUBSCRIBED).read_text(encoding="utf-8")
    with zipfile.ZipFile(latin, "w") as archive:
        archive.writestr(SUBSCRIBED, text.replace("Ayşe", "Ay\xe7e").encode("latin-1", "replace"))
    with pytest.raises(InputError, match=rf"{SUBSCRIBED}:2: the file is not UTF-8 text"):
        list(MailchimpExport(latin))


def test_unsubscribed_and_cleaned_members_are_suppressed_with_their_time_and_reason(
    tmp_path: Path,
) -> None:
    with SuppressionStore(tmp_path / "store.sqlite3") as store:
        done = apply_suppressions(store, export_zip(tmp_path))
        assert (done.added, done.already) == (3, 0)
        assert store.reason("omar.khalil@example.net") == "unsubscribed"
        assert store.reason("anna.schmidt@example.net") == "unsubscribed"
        assert store.reason("mehmet.demir@example.org") == "bounced"
        assert store.reason("ayse.yilmaz@example.org") is None  # subscribed: not suppressed
        entries = {entry.email: entry for entry in store.entries()}
        omar, mehmet = entries["omar.khalil@example.net"], entries["mehmet.demir@example.org"]
        assert omar.source == mehmet.source == SOURCE
        assert omar.first_seen == utc("2024-04-02 18:22:51").timestamp()
        assert omar.detail == ("unsubscribed in Mailchimp: I no longer want to receive these "
                               "emails (campaign: April 2024 newsletter)")
        assert mehmet.first_seen == utc("2024-03-06 02:10:33").timestamp()
        assert mehmet.detail == "cleaned by Mailchimp (campaign: March 2024 newsletter)"
        assert '"confirm_time": "2021-02-03T14:02:00+00:00"' in mehmet.raw  # the evidence

        again = apply_suppressions(store, FIXTURES)
        assert (again.added, again.already) == (0, 3)


def test_mailer_subscribers_import_keeps_consent_and_suppresses(tmp_path: Path) -> None:
    """``mailer subscribers import`` of Mailchimp's export: the subscribed members become
    confirmed sign-ups with their times, language and tags (the next send counts them), the
    unsubscribed and cleaned ones are suppressed, and a second import changes nothing."""
    from projects import mailer
    from sending import make_project

    issue = make_project(tmp_path / "news")
    toml = issue.parents[1] / "mailer.toml"
    (issue.parents[1] / "subscribers.example.csv").write_text("email\n", encoding="utf-8")
    code, out = mailer("subscribers", "import", FIXTURES, "--settings", toml)
    assert code == 0, out
    assert "suppressed 3 unsubscribed or cleaned" in out, out
    code, shown = mailer("subscribers", "show", "ayse.yilmaz@example.org", "--settings", toml)
    assert code == 0, shown
    assert "2024-03-05" in shown and "Partners" in shown and "Ankara" in shown
    assert "Mailchimp" in shown  # what the consent record says of its source and wording
    code, listed = mailer("suppressions", "list", "--settings", toml)
    assert {"omar.khalil@example.net", "mehmet.demir@example.org"} <= set(listed.split())
    code, again = mailer("subscribers", "import", FIXTURES, "--settings", toml)
    assert code == 0 and "Imported 0 confirmed sign-ups" in again, again
    code, dry = mailer("send", issue, "--dry-run")
    assert code == 0 and "signed up" in dry, dry
