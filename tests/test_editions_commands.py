"""Each reader gets the edition of their language, once, also across a ``kill -9``.

A project with the issue ``send-test`` in English and its Turkish edition ``send-test.tr.yaml``;
subscribers whose ``language`` column holds tags with regions, odd case, unknown tags and none.
"""

from __future__ import annotations

import csv
import json
import mailbox
from email import message_from_bytes
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

import pytest
from projects import mailer
from sending import Recorder, make_project, smtp_server
from test_crash import SmtpServer, kill_and_resume

from mailer.delivery.ledger import Ledger

TURKISH = """
subject: "{{ subscriber.first_name | default('Merhaba') }} için haberler"
period: "Mart 2026"
lead:
  title: Ana haber
  image: {alt: "Bir fotoğraf"}
  body: Haberler burada.
sections:
  - title: Öne çıkanlar
    items:
      - title: Bir haber
        body: Haberin metni.
"""

# language column -> the edition the reader must get
ROUTES = {
    "en": "en", "tr": "tr", "TR": "tr", "tr-TR": "tr", "tr_tr": "tr", "TR-cy": "tr",
    "": "en", "ar": "en", "pt-BR": "en", "x-klingon": "en",
}


@pytest.fixture
def issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "news")
    (path.parent / "send-test.tr.yaml").write_text(TURKISH, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "news")
    return path


def write_readers(path: Path, count: int) -> dict[str, str]:
    """``count`` readers cycling through :data:`ROUTES`; address -> the edition they need."""
    wanted = {}
    languages = list(ROUTES)
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name", "language"])
        for n in range(count):
            language = languages[n % len(languages)]
            address = f"reader{n}@example.org"
            writer.writerow([address, f"Reader{n}", language])
            wanted[address] = ROUTES[language]
    return wanted



def address_of(message) -> str:
    return parseaddr(message["To"])[1]


def edition_of(message) -> str:
    """Which edition a received message is, by its headers and its words."""
    subject = str(make_header(decode_header(message["Subject"])))
    language = message["Content-Language"]
    assert ("için haberler" in subject) == (language == "tr"), subject
    return language


def test_each_reader_gets_the_edition_of_their_language(issue: Path) -> None:
    wanted = write_readers(issue.parents[1] / "subscribers.example.csv", 30)
    code, out = mailer("send", issue, "--dry-run")
    assert code == 0, out
    tr = sum(1 for edition in wanted.values() if edition == "tr")
    assert f"Editions:  en {30 - tr}, tr {tr}" in out

    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert f"Editions:  en {30 - tr}, tr {tr}" in out  # logged by a send nobody was asked for
    got = {}
    for message in mailbox.Maildir(issue.parents[1] / "outbox", create=False):
        got[address_of(message)] = edition_of(message)
        # the unsubscribe page answers in the language of the reader's edition
        assert f"&lang={edition_of(message)}>" in message["List-Unsubscribe"].replace("\n", "")
    assert got == wanted

    code, out = mailer("status", issue, "--json")
    editions = json.loads(out)["editions"]
    assert {tag: counts["sent"] for tag, counts in editions.items()} == {"en": 30 - tr, "tr": tr}
    code, out = mailer("status", issue)
    assert f"  tr edition: {tr} sent, 0 failed" in out


def test_edition_narrows_the_send_to_its_readers_and_the_rest_follow_later(issue: Path) -> None:
    wanted = write_readers(issue.parents[1] / "subscribers.example.csv", 20)
    turkish = {address for address, edition in wanted.items() if edition == "tr"}
    code, out = mailer("send", issue, "--yes", "--edition", "tr")
    assert code == 0, out
    box = mailbox.Maildir(issue.parents[1] / "outbox", create=False)
    assert {address_of(message) for message in box} == turkish
    assert all(edition_of(message) == "tr" for message in box)

    code, out = mailer("send", issue.parent / "send-test.yaml", "--yes")  # the whole issue
    assert code == 0, out
    got = {address_of(message): edition_of(message) for message in box}
    assert got == wanted and len(box) == 20  # the Turkish readers were not sent twice


def test_an_edition_file_sends_that_edition_alone(issue: Path) -> None:
    wanted = write_readers(issue.parents[1] / "subscribers.example.csv", 10)
    code, out = mailer("send", issue.parent / "send-test.tr.yaml", "--yes")
    assert code == 0, out
    box = mailbox.Maildir(issue.parents[1] / "outbox", create=False)
    assert {address_of(m) for m in box} == {a for a, e in wanted.items() if e == "tr"}


def test_an_unknown_edition_is_a_usage_error_and_sends_nothing(issue: Path) -> None:
    write_readers(issue.parents[1] / "subscribers.example.csv", 5)
    code, out = mailer("send", issue, "--yes", "--edition", "de")
    assert code == 2
    assert "has no 'de' edition (it has: en, tr)" in out
    assert not (issue.parents[1] / "outbox").exists()


def test_test_copies_go_out_in_every_edition(issue: Path) -> None:
    code, out = mailer("send", issue, "--to", "editor@example.org")
    assert code == 0, out
    assert "[TEST] editor@example.org (en edition): sent" in out
    assert "[TEST] editor@example.org (tr edition): sent" in out


@pytest.mark.slow
def test_kill_9_during_a_two_edition_send_resumes_each_reader_in_their_edition(
    issue: Path, tmp_path: Path
) -> None:
    subscribers = tmp_path / "readers.csv"
    wanted = write_readers(subscribers, 500)  # 3 kills take at most 180
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        unrecorded = kill_and_resume(
            issue, subscribers, f"smtp://127.0.0.1:{server.port}", SmtpServer(recorder),
            key=lambda row: row.email, kills=3,  # at most one per connection: test_crash.py
        )
    finally:
        server.stop()
    with recorder.lock:
        received = list(recorder.messages)
    by_reader: dict[str, list] = {}
    for recipient, message in received:
        by_reader.setdefault(recipient, []).append(message)
    assert set(by_reader) == set(wanted)  # nobody lost
    assert any(unrecorded)
    repeats = sum(len(messages) - 1 for messages in by_reader.values())
    assert repeats <= sum(len(found) for found in unrecorded)  # only the unrecorded again
    for address, messages in by_reader.items():
        assert {edition_of(m) for m in messages} == {wanted[address]}, address
        assert len({m["Message-ID"] for m in messages}) == 1  # the same Message-ID


def test_a_ledger_row_keeps_its_edition_when_the_reader_changes_language(issue: Path) -> None:
    """A resumed send sends the edition the row was queued with, whatever the CSV says now."""
    subscribers = issue.parents[1] / "subscribers.example.csv"
    subscribers.write_text("email,language\nayse@example.org,tr\n", encoding="utf-8")
    code, out = mailer("send", issue, "--dry-run")
    assert "tr 1" in out
    ledger = issue.parents[1] / ".mailer" / "ledger.sqlite3"
    from mailer.audience.subscribers import Subscriber
    from mailer.compose.editions import load_editions
    from mailer.delivery.prepare import prepare_editions

    prepared = prepare_editions(load_editions(issue), real_send=False)
    with Ledger(ledger) as book:  # queued as Turkish, as a send that was killed leaves it
        book.fill("send-test", [Subscriber("ayse@example.org", language="tr")],
                  edition_of=prepared.factory.edition_of)
    subscribers.write_text("email,language\nayse@example.org,en\n", encoding="utf-8")
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    (message,) = mailbox.Maildir(issue.parents[1] / "outbox", create=False)
    assert edition_of(message) == "tr"


def test_message_ids_do_not_depend_on_the_edition(issue: Path) -> None:
    from mailer.audience.subscribers import Subscriber
    from mailer.compose.editions import load_editions
    from mailer.delivery.prepare import prepare_editions

    prepared = prepare_editions(load_editions(issue), real_send=False)
    english, turkish = (p.factory for p in prepared.each)
    reader = Subscriber("ayse@example.org", language="tr")
    built = message_from_bytes(prepared.factory.build(reader).data)
    assert built["Content-Language"] == "tr"
    assert english.build(reader).message_id == turkish.build(reader).message_id


def test_preview_writes_every_edition_in_its_folder(issue: Path, tmp_path: Path) -> None:
    code, out = mailer("preview", issue, "--no-serve", "--out", tmp_path / "out")
    assert code == 0, out
    folder = tmp_path / "out" / "send-test"
    english = (folder / "index.html").read_text(encoding="utf-8")
    turkish = (folder / "tr" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in english and "Ana haber" not in english
    assert '<html lang="tr"' in turkish and "Ana haber" in turkish
    assert "Ana haber" in (folder / "tr" / "message.txt").read_text(encoding="utf-8")

    code, out = mailer("preview", issue, "--no-serve", "--out", tmp_path / "one", "--edition", "tr")
    assert code == 0, out
    assert (tmp_path / "one" / "send-test" / "tr" / "index.html").exists()
    assert not (tmp_path / "one" / "send-test" / "index.html").exists()


def test_check_reports_every_edition_in_one_report(issue: Path) -> None:
    edition = issue.parent / "send-test.tr.yaml"
    unfinished = "body: Haberler burada.\n  links: [{label: Devamı, url: 'https://example.org/a'}]"
    edition.write_text(TURKISH.replace("body: Haberler burada.", unfinished), encoding="utf-8")
    code, out = mailer("check", issue, "--offline")
    assert code == 1, out
    assert "send-test.tr.yaml:8:27: error [content] https://example.org/a" in out
    assert out.count("iom-logo.png: PNG") == 1  # mailer.toml's logo, shared: said once
    code, out = mailer("check", issue, "--offline", "--edition", "en")
    assert "send-test.tr.yaml" not in out


def test_an_edition_that_cannot_be_loaded_stops_every_command(issue: Path) -> None:
    edition = issue.parent / "send-test.tr.yaml"
    edition.write_text("language: de\n" + TURKISH, encoding="utf-8")
    write_readers(issue.parents[1] / "subscribers.example.csv", 3)
    for command in (["check", "--offline"], ["send", "--yes"], ["preview", "--no-serve"]):
        code, out = mailer(command[0], issue, *command[1:])
        assert code == 2, (command, out)
        assert out.startswith(f"Error: {edition}:1:1: language: language 'de' does not match")
        assert len(out.splitlines()) == 1
    assert not (issue.parents[1] / "outbox").exists()


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_live_preview_switches_between_editions(issue: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect
    from test_preview_cli import live_preview

    from mailer.preview.browser import chromium

    with live_preview(issue, tmp_path / "out") as port, chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        buttons = page.get_by_role("navigation", name="Editions").get_by_role("button")
        buttons.nth(1).wait_for()
        assert buttons.all_inner_texts() == ["en", "tr"]
        buttons.nth(1).click()
        for frame_id in ("phone", "desktop"):
            frame = page.frame_locator(f"#{frame_id}")
            # expect waits for the frame to reload: a busy machine takes its time.
            expect(frame.locator("html")).to_have_attribute("lang", "tr")
            frame.get_by_text("Ana haber").first.wait_for()
        expect(page.locator("#text")).to_contain_text("Ana haber")


@pytest.mark.parametrize("name", ["mailgun", "sendgrid", "postmark"])
def test_an_esp_request_carries_one_edition(issue: Path, tmp_path: Path, name: str,
                                            httpserver, monkeypatch) -> None:
    """Readers of both editions claimed in one batch go out as one request per edition, each
    with its edition's subject (an ESP request has one subject and body for all)."""
    from providers import PROVIDERS, recipients_of
    from test_transport_esp import factory_for
    from werkzeug import Request

    from mailer.audience.subscribers import Subscriber
    from mailer.compose.editions import load_editions
    from mailer.delivery.campaign import Campaign, Policy
    from mailer.delivery.prepare import prepare_editions

    provider = PROVIDERS[name]
    monkeypatch.setenv(provider.secret_variable, "key")
    requests_seen: list[tuple[list[str], set[str]]] = []

    def handler(request: Request):
        if name == "postmark":
            subjects = {message["Subject"] for message in request.get_json()}
        elif name == "sendgrid":
            subjects = {request.get_json()["subject"]}
        else:
            subjects = {request.form["subject"]}
        recipients = recipients_of(name, request)
        requests_seen.append((recipients, subjects))
        return provider.success(len(recipients))

    httpserver.expect_request(provider.path).respond_with_handler(handler)
    prepared = prepare_editions(load_editions(issue), real_send=False)
    readers = [Subscriber(f"r{n}@example.org", first_name=f"R{n}", language=("tr", "en")[n % 2])
               for n in range(10)]
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        campaign = Campaign(prepared.factory, ledger, factory_for(name, httpserver),
                            Policy(concurrency=1))
        campaign.fill(readers)
        summary = campaign.run()
    assert summary.sent == 10
    assert len(requests_seen) == 2
    for recipients, subjects in requests_seen:  # Postmark's subjects are filled in per reader
        (turkish,) = {"için haberler" in subject for subject in subjects}
        assert {int(r[1:].split("@")[0]) % 2 for r in recipients} == {0 if turkish else 1}


def test_status_speaks_of_the_whole_issue_even_while_an_edition_is_broken(issue: Path) -> None:
    write_readers(issue.parents[1] / "subscribers.example.csv", 4)
    assert mailer("send", issue, "--yes")[0] == 0
    (issue.parent / "send-test.tr.yaml").write_text("subject: [unclosed\n", encoding="utf-8")
    for path in (issue, issue.parent / "send-test.tr.yaml"):
        code, out = mailer("status", path)
        assert code == 0, out
        assert out.startswith("send-test: 4 sent, 0 failed")


def test_status_counts_each_editions_feedback(issue: Path) -> None:
    """An unsubscribe from a Turkish reader and a bounce from an English one show under their
    own editions, and in the whole issue's line."""
    from mailer.audience.project_store import store_for
    from mailer.settings import load_settings

    wanted = write_readers(issue.parents[1] / "subscribers.example.csv", 10)
    assert mailer("send", issue, "--yes")[0] == 0
    turkish = next(address for address, edition in wanted.items() if edition == "tr")
    english = next(address for address, edition in wanted.items() if edition == "en")
    with store_for(load_settings(issue.parents[1] / "mailer.toml")) as store:
        store.add(turkish, "unsubscribed", "one-click", issue="send-test")
        store.add(english, "bounced", "send", issue="send-test")

    code, out = mailer("status", issue, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["feedback_by_edition"]["tr"]["unsubscribed"] == 1
    assert report["feedback_by_edition"]["tr"]["bounced"] == 0
    assert report["feedback_by_edition"]["en"]["bounced"] == 1
    assert report["feedback"]["unsubscribed"]["addresses"] == 1
    code, out = mailer("status", issue)
    tr_sent = sum(1 for edition in wanted.values() if edition == "tr")
    assert f"    feedback: 1 unsubscribed ({1 / tr_sent:.1%} of {tr_sent} sent)" in out
