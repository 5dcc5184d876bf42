"""Sign-up with double opt-in, the consent record, the preference page, and the send to the
grown list.

One test drives the real thing: ``mailer serve`` (waitress, in a subprocess) and headless
Chromium fill the form in English and in Arabic, the confirmation emails land in the outbox,
their links confirm only on POST, and the next ``send --dry-run`` counts each reader in their
edition. The others call the same app in this process (Flask's test client), and
``mailer`` through typer's runner.
"""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import test_archive as site
import test_serve as served
from browsers import browser_test
from flask.testing import FlaskClient
from projects import Project, mailer
from sending import make_project

from mailer.audience.confirm_tokens import VALID_FOR, ConfirmTokens
from mailer.audience.signups import Imported, Signups
from mailer.audience.store import SuppressionStore
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.errors import ConfigError
from mailer.settings import settings_for
from mailer.web.app import create_app

SECRET = served.SECRET
LIST_ID = served.LIST_ID
SUBSCRIBE = "/newsletter/subscribe"
WORDING = {
    "en": "I agree to receive the IOM Turkey newsletter by email.",
    "ar": "أوافق على تلقي نشرة المنظمة الدولية للهجرة في تركيا بالبريد الإلكتروني.",
    "tr": "IOM Türkiye bültenini e-postayla almayı kabul ediyorum.",
}
ARABIC_EDITION = """
subject: أخبار
period: "مارس 2026"
lead:
  title: الخبر الرئيسي
  image: {alt: "صورة"}
  body: الأخبار.
sections:
  - title: أبرز الأحداث
    items:
      - title: خبر
        body: نص الخبر.
"""


def signup_project(root: Path) -> Path:
    """A project with an issue in English and Arabic, a sign-up form and consent wording in
    en, ar and tr; the issue's path."""
    issue = make_project(root)
    (issue.parent / "send-test.ar.yaml").write_text(ARABIC_EDITION.lstrip(), encoding="utf-8")
    (issue.parent / "send-test.tr.yaml").write_text(
        ARABIC_EDITION.replace("أخبار", "Haberler").lstrip(), encoding="utf-8"
    )
    settings = root / "mailer.toml"
    text = settings.read_text(encoding="utf-8").replace(
        "[list]\n", f'[list]\nsubscribe_url = "https://turkiye.iom.int{SUBSCRIBE}"\n', 1
    )
    wording = "".join(f'{tag} = "{sentence}"\n' for tag, sentence in WORDING.items())
    text += f"\n[consent]\nrecord_ip = true\n\n[consent.wording]\n{wording}"
    settings.write_text(text, encoding="utf-8")
    (root / "subscribers.example.csv").write_text(
        "email,name,language\nayse@example.org,Ayşe,tr\n", encoding="utf-8"
    )
    return issue


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    return signup_project(tmp_path / "news")


@pytest.fixture
def client(issue: Path) -> FlaskClient:
    root = issue.parents[1]
    app = create_app(settings_for(root, root / "mailer.toml"),
                     environ={"MAILER_UNSUBSCRIBE_SECRET": SECRET})
    return app.test_client()


def store_of(issue: Path) -> SuppressionStore:
    return SuppressionStore(issue.parents[1] / ".mailer" / "suppressions.sqlite3")


def outbox(issue: Path) -> list[EmailMessage]:
    """The messages in the project's outbox, oldest first."""
    files = sorted((issue.parents[1] / "outbox").rglob("*.eml"), key=lambda f: f.stat().st_mtime)
    return [message_from_bytes(f.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for f in files]


def confirm_path(message: EmailMessage) -> str:
    """The path and query of the confirmation link in ``message``'s text."""
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = re.findall(r"https://\S+/confirm\?\S+", body.get_content())
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def form_fields(client: FlaskClient, language: str = "en") -> dict[str, str]:
    """The hidden fields of the form as the server gives it (with its cookie set)."""
    html = client.get(f"{SUBSCRIBE}?lang={language}").get_data(as_text=True)
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def sign_up(client: FlaskClient, email: str, client_ip: str = "127.0.0.1", **extra: str) -> int:
    """Fill in the form and send it (a field given as "-" is left out)."""
    fields = form_fields(client)
    fields |= {"email": email, "name": "Omar", "language": "en", "consent": "yes", **extra}
    return client.post(SUBSCRIBE, data={k: v for k, v in fields.items() if v != "-"},
                       environ_base={"REMOTE_ADDR": client_ip}).status_code


# -- the real thing -----------------------------------------------------------------------------


@browser_test
class TestInTheBrowser:
    def test_sign_up_in_english_and_arabic_confirm_and_the_next_send_counts_them(
        self, browser, issue: Path
    ) -> None:
        root = issue.parents[1]
        readers = {"en": "omar@example.net", "ar": "layla@example.org"}
        with served.serving(root) as base:
            page = browser.new_page()
            for language, email in readers.items():
                page.goto(f"{base}{SUBSCRIBE}?lang={language}")
                form = page.locator("form.mailer-signup")
                direction = form.evaluate("f => getComputedStyle(f).direction")
                assert direction == ("rtl" if language == "ar" else "ltr")
                assert page.get_by_label(WORDING[language]).count() == 1  # the label says it
                label = {"en": "Email address", "ar": "عنوان البريد الإلكتروني"}[language]
                page.get_by_role("textbox", name=label, exact=True).fill(email)
                page.locator(f'input[name="language"][value="{language}"]').check()
                page.get_by_label(WORDING[language]).check()
                page.locator("form.mailer-signup button[type=submit]").click()
                page.wait_for_load_state()
                assert "mailer-signup" not in page.content()  # the answer page, not the form
                with store_of(issue) as store:
                    signup = Signups(store).get(email)
                assert signup is not None and signup.status == "pending"

                (mail,) = [m for m in outbox(issue) if email in m["To"]]
                assert mail["Content-Language"] == language
                assert ("أكّد" in mail["Subject"]) == (language == "ar")
                link = confirm_path(mail)
                assert "@" not in link and email.split("@")[0] not in link
                page.goto(f"{base}{link}")  # a GET (a link scanner, or the reader) ...
                with store_of(issue) as store:
                    assert Signups(store).get(email).status == "pending"  # ... changes nothing
                page.locator("form button[type=submit]").click()  # the button POSTs
                page.wait_for_load_state()
                with store_of(issue) as store:
                    assert Signups(store).get(email).status == "confirmed"
            page.close()

        code, out = mailer("send", issue, "--dry-run")
        assert code == 0, out
        assert "(1 from the CSV, 2 signed up;" in out
        assert "Editions:  en 1, ar 1, tr 1" in out
        code, out = mailer("subscribers", "show", readers["ar"], "--settings",
                           root / "mailer.toml")
        assert code == 0, out
        assert out.splitlines()[2] == f"  wording:        {WORDING['ar']}"
        assert "signed up:" in out and "from 127.0.0.1" in out


# -- tokens ---------------------------------------------------------------------------------------


def test_forged_altered_or_expired_confirmation_tokens_are_400_and_confirm_nothing(
    client: FlaskClient, issue: Path
) -> None:
    assert sign_up(client, "omar@example.net") == 200
    (mail,) = outbox(issue)
    good = confirm_path(mail).partition("token=")[2].partition("&")[0]
    tokens = ConfirmTokens(SECRET, LIST_ID)
    expired = tokens.make("omar@example.net", now=time.time() - VALID_FOR - 60)
    forged = ConfirmTokens("another-secret-0123456789abcdef", LIST_ID).make("omar@example.net")
    altered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    for token in (expired, forged, altered, "", "x" * 2000):
        for method in (client.get, client.post):
            assert method(f"{SUBSCRIBE}/confirm?token={token}").status_code == 400
    with store_of(issue) as store:
        assert Signups(store).get("omar@example.net").status == "pending"
    assert client.post(f"{SUBSCRIBE}/confirm?token={good}").status_code == 200
    with store_of(issue) as store:
        assert Signups(store).get("omar@example.net").status == "confirmed"


def test_forged_or_altered_preference_tokens_are_400_and_change_nothing(
    client: FlaskClient, issue: Path
) -> None:
    links = UnsubscribeLinks(SECRET, LIST_ID, None, None, issue="send-test")
    good = links.token("ayse@example.org")
    forged = UnsubscribeLinks("another-secret-0123456789abcdef", LIST_ID, None, None,
                              issue="send-test").token("ayse@example.org")
    for token in (forged, good[:-2] + ("AA" if good[-2:] != "AA" else "BB"), ""):
        for action in ("save", "unsubscribe"):
            answer = client.post(f"{SUBSCRIBE}/preferences?token={token}",
                                 data={"action": action, "language": "ar"})
            assert answer.status_code == 400
    with store_of(issue) as store:
        assert Signups(store).preferences("ayse@example.org") is None
        assert len(store) == 0


# -- what the form records ------------------------------------------------------------------------


def test_thirty_sign_ups_of_one_address_send_at_most_three_emails(
    client: FlaskClient, issue: Path
) -> None:
    answers = {sign_up(client, "omar@example.net", f"198.51.100.{n}") for n in range(30)}
    assert answers == {200}  # every one gets the same answer page
    assert len(outbox(issue)) == 3


def test_a_client_over_its_hourly_sign_ups_is_told_to_wait_and_records_nothing(
    client: FlaskClient, issue: Path
) -> None:
    answers = [sign_up(client, f"reader{n}@example.org") for n in range(21)]
    assert answers == [200] * 20 + [429]  # [signup] per_client_per_hour = 20
    with store_of(issue) as store:
        assert Signups(store).get("reader20@example.org") is None


@pytest.mark.parametrize("extra", [{"website": "http://spam.example.com/"}, {"consent": "-"}],
                         ids=["honeypot", "no consent"])
def test_the_honeypot_or_a_missing_consent_records_nothing(
    client: FlaskClient, issue: Path, extra: dict[str, str]
) -> None:
    sign_up(client, "omar@example.net", **extra)
    with store_of(issue) as store:
        assert Signups(store).count() == 0
    assert outbox(issue) == []


def test_a_post_without_the_forms_cookie_records_nothing_and_gets_the_form_back(
    client: FlaskClient, issue: Path
) -> None:
    fields = form_fields(client)
    client.delete_cookie("mailer_form", path=SUBSCRIBE)
    answer = client.post(SUBSCRIBE, data=fields | {"email": "omar@example.net",
                                                   "consent": "yes"})
    assert answer.status_code == 400
    assert 'value="omar@example.net"' in answer.get_data(as_text=True)  # filled in, to send
    form_fields(client)  # a cookie again, and a forged field that is not even ASCII
    forged = client.post(SUBSCRIBE, data=fields | {"csrf": "ğ" * 64,
                                                   "email": "omar@example.net", "consent": "yes"})
    assert forged.status_code == 400
    with store_of(issue) as store:
        assert Signups(store).count() == 0


def test_a_bounced_address_is_never_re_added_and_an_unsubscribed_one_may_come_back(
    client: FlaskClient, issue: Path
) -> None:
    with store_of(issue) as store:
        store.add("bounced@example.org", "bounced", "command")
        store.add("left@example.org", "unsubscribed", "page")
    assert sign_up(client, "bounced@example.org") == 200  # the same answer ...
    assert sign_up(client, "left@example.org") == 200
    (mail,) = outbox(issue)  # ... but one email, to the address that may come back
    assert "left@example.org" in mail["To"]
    assert client.post(confirm_path(mail)).status_code == 200
    with store_of(issue) as store:
        assert Signups(store).get("bounced@example.org") is None
        assert store.reason("left@example.org") is None
        assert store.reason("bounced@example.org") == "bounced"


def test_a_reader_who_confirmed_then_left_may_sign_up_again(
    client: FlaskClient, issue: Path
) -> None:
    assert sign_up(client, "omar@example.net") == 200
    assert client.post(confirm_path(outbox(issue)[0])).status_code == 200
    with store_of(issue) as store:
        store.add("omar@example.net", "unsubscribed", "page")
    assert sign_up(client, "omar@example.net") == 200
    _, again = outbox(issue)
    assert "omar@example.net" in again["To"]  # a confirmation email, not silence
    assert client.post(confirm_path(again)).status_code == 200
    with store_of(issue) as store:
        assert store.reason("omar@example.net") is None
        assert Signups(store).get("omar@example.net").status == "confirmed"


def test_an_older_link_does_not_confirm_a_later_sign_up_of_the_address(
    client: FlaskClient, issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else signing up the address (another name, another language) makes the
    reader's earlier link confirm nothing: a consent record is what its person agreed to."""
    assert sign_up(client, "omar@example.net") == 200
    later = time.time() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert sign_up(client, "omar@example.net", name="Someone Else") == 200
    monkeypatch.undo()
    own, other = outbox(issue)
    assert client.post(confirm_path(own)).status_code == 400
    with store_of(issue) as store:
        assert Signups(store).get("omar@example.net").status == "pending"
    assert client.post(confirm_path(other)).status_code == 200
    with store_of(issue) as store:
        confirmed = Signups(store).get("omar@example.net")
    assert (confirmed.status, confirmed.name) == ("confirmed", "Someone Else")


def test_a_cookie_that_is_not_the_servers_is_a_400_not_an_error(
    client: FlaskClient, issue: Path
) -> None:
    fields = form_fields(client)
    client.set_cookie("mailer_form", "é", path=SUBSCRIBE)
    answer = client.post(SUBSCRIBE, data=fields | {"email": "omar@example.net",
                                                   "consent": "yes"})
    assert answer.status_code == 400
    with store_of(issue) as store:
        assert Signups(store).count() == 0


def test_forget_erases_the_sign_up_and_keeps_it_from_coming_back(
    client: FlaskClient, issue: Path
) -> None:
    sign_up(client, "omar@example.net")
    code, out = mailer("subscribers", "forget", "omar@example.net", "--settings",
                       issue.parents[1] / "mailer.toml")
    assert code == 0, out
    with store_of(issue) as store:
        assert Signups(store).get("omar@example.net") is None
        assert store.query("SELECT count(*) FROM signup_mails")[0][0] == 0
    assert sign_up(client, "omar@example.net") == 200
    with store_of(issue) as store:
        assert Signups(store).get("omar@example.net") is None


# -- the send to the grown list -------------------------------------------------------------------


def test_a_switch_from_tr_to_ar_on_the_preference_page_gives_the_ar_edition(
    client: FlaskClient, issue: Path
) -> None:
    token = UnsubscribeLinks(SECRET, LIST_ID, None, None, issue="send-test").token(
        "ayse@example.org"
    )
    page = client.get(f"{SUBSCRIBE}/preferences?token={token}&lang=tr")
    assert page.status_code == 200
    assert 'value="tr" checked' in page.get_data(as_text=True)  # her edition's language
    shown = re.sub(r"<[^>]+>", " ", page.get_data(as_text=True))
    saved = client.post(f"{SUBSCRIBE}/preferences?token={token}&lang=tr",
                        data={"action": "save", "language": "ar"})
    assert saved.status_code == 200
    # The change is kept with the words of the page she made it on (a subject access shows it).
    code, held = mailer("subscribers", "show", "ayse@example.org",
                        "--settings", issue.parents[1] / "mailer.toml")
    assert code == 0 and "Event: preferences" in held, held
    assert '"language": "ar"' in held
    recorded = held.split("page showed:", 1)[1].split("\n", 1)[0].split()
    assert recorded and " ".join(recorded) in " ".join(shown.split())
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    (mail,) = outbox(issue)
    assert mail["Content-Language"] == "ar"
    assert "الخبر الرئيسي" in mail.get_body(("plain",)).get_content()
    footer = mail.get_body(("html",)).get_content()
    assert f"https://turkiye.iom.int{SUBSCRIBE}/preferences?token=" in footer
    assert "التفضيلات" in footer  # "Preferences", in her language


def test_an_unsubscribe_on_the_preference_page_is_kept_with_the_pages_words(
    client: FlaskClient, issue: Path
) -> None:
    token = UnsubscribeLinks(SECRET, LIST_ID, None, None, issue="send-test").token(
        "ayse@example.org"
    )
    page = client.get(f"{SUBSCRIBE}/preferences?token={token}&lang=tr")
    shown = " ".join(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).split())
    left = client.post(f"{SUBSCRIBE}/preferences?token={token}&lang=tr",
                       data={"action": "unsubscribe"})
    assert left.status_code == 200
    with store_of(issue) as store:
        (entry,) = store.entries()
    assert (entry.email, entry.reason) == ("ayse@example.org", "unsubscribed")
    recorded = " ".join(entry.raw.split("\n", 1)[1].split())
    assert recorded and recorded in shown


def test_each_address_once_with_the_sign_ups_language_over_the_csvs(issue: Path) -> None:
    """A confirmed sign-up the CSV also has is its row, in the sign-up's language; one the
    CSV marks unsubscribed is not written to; a pending one is nobody yet."""
    root = issue.parents[1]
    (root / "subscribers.example.csv").write_text(
        "email,name,language,status\nayse@example.org,Ayşe,tr,\nomar@example.net,Omar,tr,\n"
        "gone@example.org,Gone,en,unsubscribed\n",
        encoding="utf-8",
    )
    with store_of(issue) as store:
        signups = Signups(store)
        for email, language in (("Omar@Example.net", "en"), ("new@example.org", "ar"),
                                ("pending@example.org", "en"), ("gone@example.org", "en")):
            signups.record_pending(email, name="", language=language, topics=["partners"],
                                   wording=WORDING[language], commit=None)
        for email in ("omar@example.net", "new@example.org", "gone@example.org"):
            signups.confirm(email)
    code, out = mailer("send", issue, "--dry-run")
    assert code == 0, out
    assert "Audience:  3 subscribers (2 from the CSV, 1 signed up;" in out
    assert "Editions:  en 1, ar 1, tr 1" in out
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert sorted(m["To"].addresses[0].addr_spec for m in outbox(issue)) == [
        "ayse@example.org", "new@example.org", "omar@example.net"]  # once each, as the CSV
    code, out = mailer("status", issue)
    assert code == 0, out
    assert "  readers: 2 from the CSV, 1 signed up" in out.splitlines()


def test_the_subscribers_export_is_the_confirmed_list_with_formulas_neutralised(
    issue: Path, tmp_path: Path
) -> None:
    with store_of(issue) as store:
        signups = Signups(store)
        signups.record_pending("omar@example.net", name="=HYPERLINK(\"x\")", language="en",
                               topics=[], wording=WORDING["en"], commit=None)
        signups.record_pending("pending@example.org", name="", language="en", topics=[],
                               wording=WORDING["en"], commit=None)
        signups.confirm("omar@example.net")
    out = tmp_path / "list.csv"
    code, said = mailer("subscribers", "export", "--out", out, "--settings",
                        issue.parents[1] / "mailer.toml")
    assert code == 0, said
    header, row = out.read_text(encoding="utf-8").splitlines()
    assert header.startswith("email,name,language,topics,source")
    assert row.startswith("omar@example.net,\"'=HYPERLINK(\"\"x\"\")\",en,,form,")


def test_the_embeddable_form_posts_to_subscribe_url_in_the_language_asked(issue: Path) -> None:
    code, out = mailer("subscribers", "form", "--lang", "ar", "--settings",
                       issue.parents[1] / "mailer.toml")
    assert code == 0, out
    assert f'action="https://turkiye.iom.int{SUBSCRIBE}" lang="ar" dir="rtl"' in out
    assert WORDING["ar"] in out and "<script" not in out


def test_the_archive_pages_link_to_the_sign_up_form_in_their_language(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = project.settings.read_text(encoding="utf-8").replace(
        "[list]\n", f'[list]\nsubscribe_url = "https://turkiye.iom.int{SUBSCRIBE}"\n', 1
    )
    project.settings.write_text(text + '\n[archive]\nbase_url = "https://news.example.org/"\n',
                                encoding="utf-8")
    project.write_issue(site.issue_text("2026-01", "Winter"), "2026-01.yaml")
    project.write_issue(site.ARABIC, "2026-01.ar.yaml")
    monkeypatch.chdir(project.root)
    site.mark_sent(project, "2026-01", 1_767_200_000)
    folder = site.built(project)
    pages = {path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
             for path in folder.rglob("*.html")}
    link = f'<a href="https://turkiye.iom.int{SUBSCRIBE}?lang=%s">%s</a>'
    assert link % ("en", "Subscribe") in pages["index.html"]
    arabic = {path for path in pages if "ar" in path.split("/")[:-1]}
    assert arabic and all(link % ("ar", "اشترك") in pages[path] for path in arabic)
    assert all(link % ("en", "Subscribe") in html for path, html in pages.items()
               if path not in arabic)


def test_imported_consent_records_keep_their_times_and_never_lift_a_suppression(
    issue: Path,
) -> None:
    with store_of(issue) as store:
        store.add("left@example.org", "unsubscribed", "page")
        signups = Signups(store)
        signups.record_pending("pending@example.org", name="", language="en", topics=[],
                               wording=WORDING["en"], commit=None)
        records = [
            Imported("pending@example.org", "tr", "Old form", signed_up_at=1_600_000_000,
                     confirmed_at=1_600_000_600, topics=("partners", "media")),
            Imported("left@example.org", "en", "Old form"),
        ]
        assert signups.import_confirmed(records) == (1, 0, 1)
        assert signups.import_confirmed(records[:1]) == (0, 1, 0)
        imported = signups.get("pending@example.org")
        assert imported is not None
        assert (imported.status, imported.source, imported.signed_up_at,
                imported.confirmed_at, imported.topics, imported.wording) == (
            "confirmed", "import", 1_600_000_000, 1_600_000_600, ("partners", "media"),
            "Old form")
        assert signups.get("left@example.org") is None


def test_a_pull_brings_the_servers_sign_ups_and_preferences_to_the_sending_store(
    issue: Path, tmp_path: Path
) -> None:
    """``mailer suppressions pull`` reads GET /suppressions: the sign-ups confirmed on the
    server and the preferences changed there reach the store the laptop sends from."""
    root = issue.parents[1]
    app = create_app(settings_for(root, root / "mailer.toml"),
                     environ={"MAILER_UNSUBSCRIBE_SECRET": SECRET, "MAILER_SYNC_TOKEN": "t" * 32})
    with store_of(issue) as server:
        signups = Signups(server)
        for email in ("omar@example.net", "back@example.org", "bounced@example.org"):
            signups.record_pending(email, name="Omar", language="ar", topics=["partners"],
                                   wording=WORDING["ar"], commit="abc123", now=2_000)
            signups.confirm(email, now=2_000)
        signups.set_preferences("ayse@example.org", language="ar", now=2_000)
    answer = app.test_client().get("/suppressions?since=1000",
                                   headers={"Authorization": "Bearer " + "t" * 32})
    assert answer.status_code == 200
    with SuppressionStore(tmp_path / "laptop.sqlite3") as laptop:
        laptop.add("back@example.org", "unsubscribed", "page", when=1_000)  # before, lifted
        laptop.add("bounced@example.org", "bounced", "mailbox", when=1_000)  # never lifted
        here = Signups(laptop)
        assert here.merge(answer.json["signups"], answer.json["preferences"]) == 3
        assert here.merge(answer.json["signups"], answer.json["preferences"]) == 0  # once
        record = here.get("omar@example.net")
        assert record is not None and (record.status, record.wording, record.topics,
                                       record.wording_commit) == (
            "confirmed", WORDING["ar"], ("partners",), "abc123")
        assert laptop.reason("back@example.org") is None
        assert here.get("bounced@example.org") is None
        assert here.choice("ayse@example.org") == ("ar", None)


def test_a_sign_up_form_without_consent_wording_in_the_lists_language_stops_serve(
    issue: Path,
) -> None:
    root = issue.parents[1]
    text = (root / "mailer.toml").read_text(encoding="utf-8")
    (root / "mailer.toml").write_text(text.replace(f'en = "{WORDING["en"]}"\n', ""),
                                      encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mailer\.toml.*consent sentence in the list's "
                                          r"language 'en': add it to \[consent.wording\]"):
        create_app(settings_for(root, root / "mailer.toml"),
                   environ={"MAILER_UNSUBSCRIBE_SECRET": SECRET})


def test_the_form_offers_the_lists_topics_and_a_segment_reaches_who_chose_one(
    issue: Path,
) -> None:
    """``[list] topics`` on the form, labelled in the form's language; what a reader ticks is
    their topics, and an issue's ``audience: {topics: [...]}`` reaches them by it."""
    root = issue.parents[1]
    settings = root / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[list]\n",
        "[list.topics.partners]\nen = \"Partner news\"\ntr = \"Ortak haberleri\"\n\n"
        "[list.topics.jobs]\nen = \"Vacancies\"\ntr = \"İş ilanları\"\n\n[list]\n", 1,
    ), encoding="utf-8")
    app = create_app(settings_for(root, settings), environ={"MAILER_UNSUBSCRIBE_SECRET": SECRET})
    client = app.test_client()
    page = client.get(f"{SUBSCRIBE}?lang=tr").get_data(as_text=True)
    assert "Ortak haberleri" in page and "İş ilanları" in page and "Partner news" not in page
    assert sign_up(client, "partner@example.net", topics="partners") == 200
    assert sign_up(client, "seeker@example.net", "192.0.2.9", topics="jobs") == 200
    for message in outbox(issue):
        assert client.post(confirm_path(message)).status_code == 200
    issue.write_text(issue.read_text(encoding="utf-8") + "audience: {topics: [partners]}\n",
                     encoding="utf-8")
    code, out = mailer("send", issue, "--dry-run")
    assert code == 0, out
    assert "1 subscriber (0 from the CSV, 1 signed up" in out, out
