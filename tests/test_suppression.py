"""The suppression store, its imports and exports, and the audience it leaves."""

from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path

import pytest

from mailer.audience.audience import Audience
from mailer.audience.events import FeedbackEvent
from mailer.audience.project_store import open_store
from mailer.audience.store import MIGRATIONS, SuppressionStore
from mailer.audience.store_csv import export_csv, import_csv
from mailer.audience.subscribers import SubscriberReader
from mailer.errors import UsageError

LEGACY = (
    "email,reason,date\n"
    "ayse@example.org,bounced,2024-05-31\n"
    "Cagri@Example.COM,unsubscribed,2024-06-01T09:30:00+03:00\n"
    "fatma@example.net,complained,\n"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def store(tmp_path: Path):
    with SuppressionStore(tmp_path / "suppressions.sqlite3") as opened:
        yield opened


def event(kind: str, address: str, event_id: str, **kwargs) -> FeedbackEvent:
    return FeedbackEvent(kind, address, kwargs.pop("source", "webhook:test"), event_id, **kwargs)


def test_an_empty_store_suppresses_nobody(store: SuppressionStore) -> None:
    assert len(store) == 0
    assert "ayse@example.org" not in store
    assert "not an address" not in store


def test_add_matches_addresses_in_any_case_and_keeps_the_evidence(store) -> None:
    assert store.add("Cagri@Example.COM", "unsubscribed", "one-click", issue="2018-03")
    assert not store.add("cagri@example.com", "unsubscribed", "page")  # already suppressed
    assert store.reason(" CAGRI@example.com ") == "unsubscribed"
    (entry,) = store.entries()
    assert (entry.email, entry.source, entry.issue) == ("Cagri@example.com", "one-click", "2018-03")
    assert entry.last_seen >= entry.first_seen
    with pytest.raises(ValueError, match="unknown suppression reason 'spam'"):
        store.add("x@example.org", "spam", "command")
    with pytest.raises(ValueError, match="not a valid address"):
        store.add("not an address", "manual", "command")


def test_events_are_recorded_once_and_suppress_by_kind(store) -> None:
    first = store.record([
        event("bounced", "ayse@example.org", "e1", detail="550 5.1.1 User unknown",
              issue_id="2018-03", raw='{"event": "failed"}'),
        event("complained", "fatma@example.net", "e2"),
        event("unsubscribed", "omar@example.net", "e3"),
        event("soft_bounce", "leyla@example.com", "e4", detail="452 4.2.2 Mailbox full"),
    ])
    assert (first.new, first.duplicates, first.suppressed) == (4, 0, 3)
    again = store.record([event("bounced", "ayse@example.org", "e1")])  # delivered twice
    assert (again.new, again.duplicates, again.suppressed) == (0, 1, 0)
    assert store.reason("ayse@example.org") == "bounced"
    assert store.reason("leyla@example.com") is None  # one soft bounce only counts
    entry = next(e for e in store.entries() if e.email == "ayse@example.org")
    assert (entry.detail, entry.raw, entry.issue) == (
        "550 5.1.1 User unknown", '{"event": "failed"}', "2018-03",
    )
    assert list(store.feedback("2018-03")) == [("bounced", "ayse@example.org")]


def test_soft_bounces_suppress_after_the_limit_within_the_window(tmp_path: Path) -> None:
    with SuppressionStore(tmp_path / "s.sqlite3", soft_limit=3, soft_days=30) as store:
        day = 86400.0
        store.record([event("soft_bounce", "a@example.org", "s1")], now=0)
        store.record([event("soft_bounce", "a@example.org", "s2")], now=31 * day)
        store.record([event("soft_bounce", "a@example.org", "s3")], now=32 * day)
        assert store.reason("a@example.org") is None  # the first is out of the window
        result = store.record([event("soft_bounce", "a@example.org", "s4")], now=33 * day)
        assert result.suppressed == 1 and store.reason("a@example.org") == "bounced"


def test_remove_lifts_a_suppression_and_says_what_it_was(store) -> None:
    store.add("ayse@example.org", "unsubscribed", "page")
    removed = store.remove("AYSE@example.org")
    assert removed is not None and removed.reason == "unsubscribed"
    assert "ayse@example.org" not in store and store.remove("ayse@example.org") is None


def test_forget_erases_the_address_and_it_is_never_written_to_again(
    store: SuppressionStore, tmp_path: Path
) -> None:
    store.record([event("bounced", "ayse@example.org", "e1", detail="550 ayse@example.org")])
    assert store.forget("Ayse@example.org")
    dump = "\n".join(sqlite3.connect(store.path).iterdump())
    assert "ayse@example.org" not in dump.lower()
    assert not store.add("ayse@example.org", "manual", "command")  # it stays erased
    assert store.record([event("complained", "ayse@example.org", "e9")]).forgotten == 1
    subscribers = write(tmp_path / "subscribers.csv", "email\nAyse@example.org\nb@example.org\n")
    audience = Audience(SubscriberReader(subscribers), store)
    assert [s.email for s in audience] == ["b@example.org"]  # never written to again
    assert audience.suppressed == 1


def test_the_legacy_csv_list_is_imported_once_and_renamed(tmp_path: Path) -> None:
    legacy = write(tmp_path / ".mailer" / "suppression.csv", LEGACY)
    with open_store(tmp_path / ".mailer" / "suppressions.sqlite3", legacy=legacy) as store:
        assert len(store) == 3
        assert store.reason("cagri@example.com") == "unsubscribed"
        assert {e.source for e in store.entries()} == {"import"}
    assert not legacy.exists() and legacy.with_name("suppression.csv.imported").exists()
    with open_store(tmp_path / ".mailer" / "suppressions.sqlite3", legacy=legacy) as store:
        assert len(store) == 3  # nothing imported twice


def test_a_legacy_list_with_a_wrong_row_is_not_half_imported(tmp_path: Path) -> None:
    legacy = write(tmp_path / "suppression.csv", LEGACY + "ayse@example.org,spam,\n")
    with pytest.raises(UsageError, match=r"suppression\.csv:5: reason: unknown reason 'spam'"):
        open_store(tmp_path / "s.sqlite3", legacy=legacy)
    assert legacy.exists()


def test_mailchimp_unsubscribed_and_cleaned_exports_import_with_their_reason(store, tmp_path):
    header = ('"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,{time},'
              '{title},{campaign},{extra}LEID,EUID,NOTES,TAGS\n')
    unsubscribed = write(tmp_path / "unsubscribed_members_export_1a2b.csv", header.format(
        time="UNSUB_TIME", title="UNSUB_CAMPAIGN_TITLE", campaign="UNSUB_CAMPAIGN_ID",
        extra="UNSUB_REASON,UNSUB_REASON_OTHER,",
    ) + 'ayse@example.org,Ayşe,Yılmaz,2,"2023-01-02 10:00:00","2024-03-05 09:12:44",'
        '"March newsletter",a1b2c3,"No longer interested",,123,abc,,\n')
    cleaned = write(tmp_path / "cleaned_members_export_1a2b.csv", header.format(
        time="CLEAN_TIME", title="CLEAN_CAMPAIGN_TITLE", campaign="CLEAN_CAMPAIGN_ID", extra="",
    ) + 'gone@example.net,,,1,"2022-05-01 10:00:00","2024-02-01 08:00:00","Feb news",'
        'd4e5f6,456,def,,\n')
    first = import_csv(store, unsubscribed)
    second = import_csv(store, cleaned)
    assert (first.added, second.added, first.skipped, second.skipped) == (1, 1, [], [])
    assert store.reason("ayse@example.org") == "unsubscribed"
    assert store.reason("gone@example.net") == "bounced"
    entry = next(e for e in store.entries() if e.email == "ayse@example.org")
    assert "No longer interested" in entry.detail and "March newsletter" in entry.detail


def test_export_reads_back_as_an_import(store, tmp_path: Path) -> None:
    store.add("ayse@example.org", "bounced", "send", issue="2018-03", detail="550 5.1.1")
    store.add("Cagri@example.com", "unsubscribed", "one-click")
    out = io.StringIO()
    assert export_csv(store, out) == 2
    with SuppressionStore(tmp_path / "other.sqlite3") as other:
        imported = import_csv(other, write(tmp_path / "export.csv", out.getvalue()))
        assert imported.added == 2
        assert other.reason("cagri@example.com") == "unsubscribed"
        assert other.reason("ayse@example.org") == "bounced"


def test_suppressed_and_unsubscribed_addresses_are_never_yielded(store, tmp_path) -> None:
    subscribers = write(
        tmp_path / "subscribers.csv",
        "email,name,status\n"
        "ayse@example.org,Ayşe Yılmaz,subscribed\n"  # bounced
        "CAGRI@example.com,Çağrı Öztürk,\n"  # unsubscribed in the store
        "layla@example.net,ليلى حداد,\n"
        "fatma@example.net,Fatma Şahin,\n"  # complained
        "zeynep@example.com,Zeynep Kaya,unsubscribed\n"
        "Layla@Example.net,ليلى,\n"  # duplicate
        "omar@@example.net,Omar,\n",  # not an address
    )
    import_csv(store, write(tmp_path / "legacy.csv", LEGACY))
    audience = Audience(SubscriberReader(subscribers), store)

    assert [s.email for s in audience] == ["layla@example.net"]
    assert (audience.subscribed, audience.suppressed) == (1, 3)
    assert (audience.unsubscribed, audience.duplicates, audience.skipped) == (1, 1, 1)
    assert [row.line for row in audience.skipped_rows] == [8]
    assert audience.warnings == [
        f"{subscribers}:7: email: 'Layla@example.net' is already on line 4; row left out"
    ]


def test_a_send_sees_what_another_process_suppressed_cheaply(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with SuppressionStore(path) as watching, SuppressionStore(path) as serving:
        assert watching.new_since_watched() == []
        serving.add("Ayse@example.org", "unsubscribed", "one-click")
        serving.add("b@example.org", "complained", "webhook:sendgrid")
        assert watching.new_since_watched() == ["ayse@example.org", "b@example.org"]
        assert watching.new_since_watched() == []  # nothing new: one PRAGMA, no query


def test_many_writers_at_once_lose_nothing_and_never_see_a_locked_database(tmp_path) -> None:
    path = tmp_path / "s.sqlite3"
    SuppressionStore(path).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with SuppressionStore(path) as store:
                for i in range(50):
                    store.record([event("unsubscribed", f"r{n}-{i}@example.org", f"{n}-{i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with SuppressionStore(path) as store:
        assert len(store) == 400


def test_a_store_from_before_versions_is_migrated_and_one_from_a_newer_mailer_refused(
    tmp_path: Path,
) -> None:
    """A store written before the schema had versions (user_version 0) opens, keeps its
    entries, and its unsubscribes from an issue count for that issue; a newer one is exit 2."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE suppressions (id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, "
            "email TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, issue TEXT, "
            "detail TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL DEFAULT '', "
            "first_seen REAL NOT NULL, last_seen REAL NOT NULL)"
        )
        db.execute("INSERT INTO suppressions (address, email, reason, source, issue, first_seen, "
                   "last_seen) VALUES ('ayse@example.org', 'ayse@example.org', 'unsubscribed', "
                   "'one-click', '2018-03', 1, 1)")
    with SuppressionStore(path) as store:
        assert store.reason("ayse@example.org") == "unsubscribed"
        assert list(store.feedback("2018-03")) == [("unsubscribed", "ayse@example.org")]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(UsageError, match="written by a newer mailer"):
        SuppressionStore(path)
