"""The suppression list, and the audience it leaves of the subscribers file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailer.audience.subscribers import SubscriberReader
from mailer.audience.suppression import Audience, SuppressionList
from mailer.errors import InputError

SUPPRESSION = (
    "email,reason,date\n"
    "ayse@example.org,bounced,2024-05-31\n"
    "Cagri@Example.COM,unsubscribed,2024-06-01T09:30:00+03:00\n"
    "fatma@example.net,complained,\n"
)


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_no_file_means_an_empty_list(tmp_path: Path) -> None:
    assert len(SuppressionList.load(None)) == 0
    missing = SuppressionList.load(tmp_path / "suppression.csv")
    assert len(missing) == 0
    assert "ayse@example.org" not in missing
    assert len(SuppressionList.load(write(tmp_path / "empty.csv", ""))) == 0


def test_loads_reasons_and_matches_addresses_in_any_case(tmp_path: Path) -> None:
    suppression = SuppressionList.load(write(tmp_path / "suppression.csv", SUPPRESSION))
    assert len(suppression) == 3
    assert "ayse@example.org" in suppression
    assert "AYSE@EXAMPLE.ORG" in suppression
    assert " cagri@example.com " in suppression
    assert suppression.reason("ayse@example.org") == "bounced"
    assert suppression.reason("cagri@EXAMPLE.com") == "unsubscribed"
    assert suppression.reason("fatma@example.net") == "complained"
    assert suppression.reason("zeynep@example.com") is None
    assert "not an address" not in suppression


def test_reads_the_same_exports_as_the_subscribers_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "suppression.csv",
        "\ufeffE-mail;Reason;Date;Note\r\n\r\nayse@example.org;Bounced;2024-05-31;mailbox full\r\n",
    )
    assert SuppressionList.load(path).reason("ayse@example.org") == "bounced"


def test_add_persists_and_a_fresh_load_sees_it(tmp_path: Path) -> None:
    path = tmp_path / ".mailer" / "suppression.csv"
    suppression = SuppressionList.load(path)
    when = datetime(2024, 6, 2, 14, 5, 9, tzinfo=UTC)

    suppression.add("Ayse@Example.ORG", "bounced", when)
    suppression.add("cagri@example.com", "complained", when)

    assert "ayse@example.org" in suppression
    assert path.read_text(encoding="utf-8") == (
        "email,reason,date\n"
        "Ayse@example.org,bounced,2024-06-02T14:05:09+00:00\n"
        "cagri@example.com,complained,2024-06-02T14:05:09+00:00\n"
    )
    fresh = SuppressionList.load(path)
    assert len(fresh) == 2
    assert fresh.reason("AYSE@example.org") == "bounced"


def test_add_keeps_the_layout_of_an_existing_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "suppression.csv", "Date;Email;Reason\r\n2024-05-31;ayse@example.org;bounced"
    )

    SuppressionList.load(path).add("cagri@example.com", "unsubscribed")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["Date;Email;Reason", "2024-05-31;ayse@example.org;bounced"]
    date, email, reason = lines[2].split(";")
    assert (email, reason) == ("cagri@example.com", "unsubscribed")
    assert datetime.fromisoformat(date).tzinfo is not None
    assert "cagri@example.com" in SuppressionList.load(path)


def test_add_without_a_file_lasts_for_this_run(tmp_path: Path) -> None:
    suppression = SuppressionList.load(None)
    suppression.add("ayse@example.org", "bounced")
    assert suppression.reason("ayse@example.org") == "bounced"
    assert list(tmp_path.iterdir()) == []


def test_add_refuses_an_unknown_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown suppression reason 'spam'"):
        SuppressionList.load(tmp_path / "s.csv").add("ayse@example.org", "spam")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "ayse@example.org,spam,2024-05-31",
            "reason: unknown reason 'spam' (expected one of: unsubscribed, bounced, complained)",
        ),
        (
            "ayse@example.org,,2024-05-31",
            "reason: unknown reason '' (expected one of: unsubscribed, bounced, complained)",
        ),
        (
            "ayse@@example.org,bounced,2024-05-31",
            "email: not a valid address 'ayse@@example.org' "
            "(The part after the @-sign contains invalid characters: '@'.)",
        ),
        (
            "ayse@example.org,bounced,31/05/2024",
            "date: not an ISO date '31/05/2024' (expected 2024-05-31)",
        ),
        ("ayse@example.org,bounced", "expected 3 fields like the header line, found 2"),
    ],
)
def test_a_wrong_row_is_an_error_with_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "suppression.csv", SUPPRESSION + "\n" + row + "\n")
    with pytest.raises(InputError) as caught:
        SuppressionList.load(path)
    assert str(caught.value) == f"{path}:6: {message}"


def test_a_reason_column_is_required(tmp_path: Path) -> None:
    path = write(tmp_path / "suppression.csv", "email\nayse@example.org\n")
    with pytest.raises(InputError, match=r"suppression\.csv:1: no 'reason' column \(found 'email'"):
        SuppressionList.load(path)


def test_suppressed_and_unsubscribed_addresses_are_never_yielded(tmp_path: Path) -> None:
    subscribers = write(
        tmp_path / "subscribers.csv",
        "email,name,status\n"
        "ayse@example.org,Ayşe Yılmaz,subscribed\n"  # bounced
        "CAGRI@example.com,Çağrı Öztürk,\n"  # unsubscribed in the suppression list
        "layla@example.net,ليلى حداد,\n"
        "fatma@example.net,Fatma Şahin,\n"  # complained
        "zeynep@example.com,Zeynep Kaya,unsubscribed\n"
        "Layla@Example.net,ليلى,\n"  # duplicate
        "omar@@example.net,Omar,\n",  # not an address
    )
    suppression = SuppressionList.load(write(tmp_path / "suppression.csv", SUPPRESSION))
    audience = Audience(SubscriberReader(subscribers), suppression)

    assert [s.email for s in audience] == ["layla@example.net"]
    assert (audience.subscribed, audience.suppressed) == (1, 3)
    assert (audience.unsubscribed, audience.duplicates, audience.skipped) == (1, 1, 1)
    assert [row.line for row in audience.skipped_rows] == [8]
    assert audience.warnings == [
        f"{subscribers}:7: email: 'Layla@example.net' is already on line 4; row left out"
    ]
    assert audience.warning_count == 1


def test_an_address_suppressed_during_a_send_is_left_out_from_then_on(tmp_path: Path) -> None:
    subscribers = write(
        tmp_path / "subscribers.csv", "email\nayse@example.org\ncagri@example.com\n"
    )
    suppression = SuppressionList.load(tmp_path / "suppression.csv")
    audience = Audience(SubscriberReader(subscribers), suppression)

    sent = []
    for subscriber in audience:
        sent.append(subscriber.email)
        suppression.add(subscriber.email, "bounced")  # a 5.1.1 bounce

    assert sent == ["ayse@example.org", "cagri@example.com"]
    again = Audience(SubscriberReader(subscribers), SuppressionList.load(suppression.path))
    assert list(again) == []
    assert again.suppressed == 2
