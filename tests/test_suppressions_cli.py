"""``mailer suppressions``, as a comms officer runs it in the project folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from projects import mailer
from sending import make_project, write_subscribers

MAILCHIMP = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,UNSUB_TIME,'
    "UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS\n"
    'leyla@example.net,Leyla,Haddad,2,"2023-01-02 10:00:00","2024-03-05 09:12:44",'
    '"March newsletter",a1b2c3,"I no longer want to receive these emails",,1,abc,,\n'
    "not-an-address,X,Y,1,,,,,,,2,def,,\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    return tmp_path / "news"



def test_add_list_and_remove(project: Path) -> None:
    assert mailer("suppressions", "add", "Ayse@Example.org", "--note", "asked by phone") == (
        0, "Ayse@Example.org: suppressed (manual)\n",
    )
    code, out = mailer("suppressions", "list", "--json")
    (entry,) = json.loads(out.split("\n1 suppressed")[0])
    assert (entry["email"], entry["reason"], entry["source"], entry["detail"]) == (
        "Ayse@example.org", "manual", "command", "asked by phone",
    )
    assert mailer("suppressions", "remove", "ayse@example.org")[0] == 0
    code, out = mailer("suppressions", "remove", "ayse@example.org")
    assert code == 2 and "is not suppressed" in out


def test_removing_a_readers_own_unsubscribe_needs_yes(project: Path) -> None:
    mailer("suppressions", "add", "ayse@example.org", "--reason", "unsubscribed")
    code, out = mailer("suppressions", "remove", "ayse@example.org")
    assert code == 2 and "unsubscribed themselves: add --yes" in out
    assert mailer("suppressions", "remove", "ayse@example.org", "--yes")[0] == 0


def test_import_a_mailchimp_export_and_export_it_again(project: Path, tmp_path: Path) -> None:
    export = tmp_path / "unsubscribed_members_export_1a2b3c.csv"
    export.write_text(MAILCHIMP, encoding="utf-8")
    code, out = mailer("suppressions", "import", export)
    assert code == 0, out
    assert "1 added, 0 already suppressed, 1 rows skipped" in out
    assert f"Warning: {export}:3: email: not a valid address" in out
    code, out = mailer("suppressions", "import", export, "--strict")
    assert code == 2 and f"{export}:3: email" in out
    code, out = mailer("suppressions", "export", "--out", tmp_path / "all.csv")
    assert code == 0 and "Exported 1 suppressions" in out
    text = (tmp_path / "all.csv").read_text(encoding="utf-8")
    assert text.startswith("email,reason,source")
    assert "leyla@example.net,unsubscribed,import" in text


def test_forget_erases_the_address_everywhere_and_it_is_never_sent_again(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = write_subscribers(project / "subscribers.example.csv", 4)
    assert mailer("send", "issues/send-test.yaml", "--yes")[0] == 0
    other = mailer("send", "issues/send-test.yaml", "--yes", "--ledger", ".mailer/other.sqlite3")
    assert other[0] == 0
    mailer("suppressions", "add", addresses[1], "--reason", "unsubscribed")
    code, out = mailer("suppressions", "forget", addresses[1])
    assert code == 0, out
    assert "and 2 ledger rows" in out
    for database in (project / ".mailer").glob("*.sqlite3"):
        dump = "\n".join(sqlite3.connect(database).iterdump()).lower()
        assert addresses[1] not in dump, database
    (project / "outbox").rename(project / "sent-before")
    assert mailer("send", "issues/send-test.yaml", "--yes", "--ledger", "fresh.sqlite3")[0] == 0
    written = "".join(p.read_text() for p in (project / "outbox" / "new").iterdir())
    assert addresses[1] not in written and addresses[2] in written


def test_the_old_suppression_csv_is_imported_once_by_any_command(project: Path) -> None:
    legacy = project / ".mailer" / "suppression.csv"
    legacy.parent.mkdir(exist_ok=True)
    legacy.write_text("email,reason,date\nayse@example.org,bounced,2024-05-31\n", "utf-8")
    code, out = mailer("suppressions", "list")
    assert code == 0 and "ayse@example.org\tbounced\timport" in out
    assert legacy.with_name("suppression.csv.imported").exists() and not legacy.exists()


def test_a_send_warns_when_the_servers_suppressions_were_never_pulled(project: Path) -> None:
    settings = project / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[list]\n", '[list]\nserve_url = "https://news.example.org/"\n'
    ), encoding="utf-8")
    write_subscribers(project / "subscribers.example.csv", 2)
    code, out = mailer("send", "issues/send-test.yaml", "--yes")
    assert code == 0, out
    assert "suppressions were last pulled from it never: run mailer suppressions pull" in out
