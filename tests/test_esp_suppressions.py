"""``[list] unsubscribe = "esp"`` end to end, against pytest-httpserver playing each ESP's
documented send API (tests/providers.py) and suppression lists, two pages and more of them:
``mailer suppressions pull --esp`` reads every page into the store, ``mailer send`` pulls first
and skips every pulled address, sends nobody a link or header of ours but asks for the
provider's own, and stops (exit 3) when the lists cannot be read; ``mailer status`` counts
what readers did at the ESP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from projects import mailer
from providers import (
    PROVIDERS,
    Suppressed,
    SuppressionLists,
    answer_key_checks,
    recipients_of,
    request_size,
)
from pytest_httpserver import HTTPServer
from sending import make_project, write_subscribers
from werkzeug import Request, Response

from mailer.audience.unsubscribe import DEVELOPMENT_SECRET, UnsubscribeLinks
from mailer.delivery.ledger import Ledger

READERS = 30  # reader0@example.org ... reader29@example.org
FILLERS = 1_000  # other addresses on the bounce list: it takes more than one page to read
DAY = 86_400
# Each setup's provider, the DSN options it is sent with, and its own unsubscribe link.
SETUPS = {
    "mailgun": ("mailgun", "", "%unsubscribe_url%"),
    "sendgrid": ("sendgrid", "", "[unsubscribe_url]"),
    "sendgrid-group": ("sendgrid", "?asm_group=123", "<%asm_group_unsubscribe_raw_url%>"),
    "postmark": ("postmark", "", "{{{ pm:unsubscribe }}}"),
}
# The pages each lists' reading takes, in the order asked: 2 unsubscribes, 1,002 bounces and
# 1 complaint (and SendGrid's group list).
PAGES = {
    "mailgun": ["unsubscribes"] * 2 + ["bounces"] * 3 + ["complaints"] * 2,
    "sendgrid": ["unsubscribes"] + ["bounces"] * 3 + ["spam_reports"],
    "sendgrid-group": ["unsubscribes"] + ["bounces"] * 3 + ["spam_reports"] + ["suppressions"],
    "postmark": ["dump"],
}


def reader(n: int) -> str:
    return f"reader{n}@example.org"


def esp_lists(setup: str, server: HTTPServer, then: float) -> SuppressionLists:
    """The provider's lists as a reader left them ``then``: reader3 unsubscribed, reader7
    bounced (after a thousand others, on the second page), reader11 complained."""
    name, query, _ = SETUPS[setup]
    when = int(then)
    entries = [
        Suppressed("unsubscribed", reader(3), when),
        Suppressed("unsubscribed", "left-long-ago@example.net", when - 300 * DAY),
        *(Suppressed("bounced", f"gone{n:04}@example.net", when - DAY, "5.1.1 user unknown")
          for n in range(FILLERS)),
        Suppressed("bounced", reader(7), when, "5.1.1 The email account does not exist"),
        Suppressed("bounced", "zz-last@example.net", when, "5.1.1 user unknown"),
        Suppressed("complained", reader(11), when),
    ]
    group = 123 if query else None
    if group:
        entries.append(Suppressed("group", reader(13), when))
    return SuppressionLists(name, server, entries, group=group)


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose ESP answers unsubscribes, with 30 readers; no unsubscribe secret set
    (an ESP answering unsubscribes needs none)."""
    issue = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", READERS)
    settings = tmp_path / "news" / "mailer.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("[list]\n", '[list]\nunsubscribe = "esp"\n'), "utf-8")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.delenv("MAILER_UNSUBSCRIBE_SECRET", raising=False)
    for provider in PROVIDERS.values():
        monkeypatch.setenv(provider.secret_variable, f"key-{provider.scheme.split(':')[0]}")
    return issue


def use(setup: str, server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send through ``setup``'s provider, played by ``server``."""
    name, query, _ = SETUPS[setup]
    provider = PROVIDERS[name]
    separator = "&" if "?" in provider.scheme + query else "?"
    endpoint = server.url_for("/").rstrip("/")
    dsn = f"{provider.scheme}{query}{separator}endpoint={endpoint}"
    monkeypatch.setenv("MAILER_TRANSPORT", dsn)
    answer_key_checks(server, name)  # a send checks the key first, as mailer doctor does


def accept_sends(name: str, server: HTTPServer) -> None:
    provider = PROVIDERS[name]
    answer_key_checks(server, name)
    server.expect_request(provider.path, method="POST").respond_with_handler(
        lambda request: provider.success(request_size(name, request))
    )


def sends(name: str, server: HTTPServer) -> list[Request]:
    return [request for request, _ in server.log if request.path == PROVIDERS[name].path]


def listed(pages: list[str]) -> list[str]:
    """Which list each page asked for was of (its last path segment)."""
    return [path.rstrip("/").rsplit("/", 1)[1] for path in pages]


# -- mailer suppressions pull --esp -----------------------------------------------------------


@pytest.mark.parametrize("setup", SETUPS)
def test_pull_reads_every_page_into_the_store(
    setup: str, news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(setup, httpserver, monkeypatch)
    then = time.time() - 2 * DAY
    lists = esp_lists(setup, httpserver, then)
    code, out = mailer("suppressions", "pull", "--esp")
    assert code == 0, out
    assert listed(lists.pages) == PAGES[setup]
    total = len(lists.entries)
    assert f"Pulled {total:,} suppressions from " in out
    assert f"{total:,} new here, {total:,} newly suppressed" in out

    code, out = mailer("suppressions", "list", "--json")
    entries = {entry["email"]: entry for entry in json.loads(out)}
    assert len(entries) == total
    assert {entry["source"] for entry in entries.values()} == {f"esp:{SETUPS[setup][0]}"}
    assert all(f"gone{n:04}@example.net" in entries for n in range(FILLERS))
    assert entries[reader(3)]["reason"] == "unsubscribed"
    assert entries[reader(11)]["reason"] == "complained"
    bounce = entries[reader(7)]
    assert bounce["reason"] == "bounced" and bounce["issue"] is None
    if setup != "postmark":  # Postmark's dump gives no bounce's words, only its reason
        assert "The email account does not exist" in bounce["detail"]
    # Kept at the time the provider recorded it, not the time of the pull.
    old = entries["left-long-ago@example.net"]["first_seen"]
    assert old.startswith(time.strftime("%Y-%m-%d", time.localtime(int(then) - 300 * DAY)))

    code, out = mailer("suppressions", "pull", "--esp")  # each entry once
    assert code == 0 and f"Pulled {total:,} suppressions" in out and ": 0 new here" in out


def test_a_next_page_elsewhere_is_not_followed(
    news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use("mailgun", httpserver, monkeypatch)
    lists = esp_lists("mailgun", httpserver, time.time())
    httpserver.clear()
    httpserver.expect_request("/v3/mg.example.org/unsubscribes").respond_with_json({
        "items": [{"address": reader(3), "tags": ["*"], "created_at": "Fri, 21 Oct 2011 "
                   "11:02:55 UTC"}],
        "paging": {"next": "https://collector.example.net/v3/mg.example.org/unsubscribes"
                           "?page=next&address=reader3%40example.org"},
    })
    code, out = mailer("suppressions", "pull", "--esp")
    assert code == 2 and "next page is at another address" in out, out
    assert "key-mailgun" not in out and reader(3) not in out
    assert lists.pages == []
    assert mailer("suppressions", "list")[1].strip() == "0 suppressed"  # nothing half-read


def test_pull_esp_needs_an_esp(news: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_TRANSPORT", "mailgun://mg.example.org")
    settings = Path("mailer.toml")
    settings.write_text(settings.read_text("utf-8").replace('unsubscribe = "esp"\n', ""), "utf-8")
    monkeypatch.setenv("MAILER_TRANSPORT", "outbox://outbox")
    code, out = mailer("suppressions", "pull", "--esp")
    assert code == 2 and "outbox:// keeps no suppression list to pull" in out


# -- mailer send pulls first, and sends nothing of ours ---------------------------------------


def our_unsubscribe_traces(issue_id: str) -> list[str]:
    """What would betray a link or header of ours: the list's page, its mailto, the words of
    the headers, and the token each reader's link would carry."""
    links = UnsubscribeLinks(DEVELOPMENT_SECRET, "newsletter.turkiye.iom.int", None, None,
                             issue=issue_id)
    return [
        "turkiye.iom.int/newsletter/unsubscribe", "unsubscribe@iom.int", "token=",
        "List-Unsubscribe", *(links.token(reader(n)) for n in range(READERS)),
    ]


@pytest.mark.parametrize("setup", SETUPS)
def test_send_skips_every_pulled_address_and_asks_the_esp_for_its_own_link(
    setup: str, news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _, link = SETUPS[setup]
    use(setup, httpserver, monkeypatch)
    lists = esp_lists(setup, httpserver, time.time() - DAY)
    accept_sends(name, httpserver)
    code, out = mailer("send", news, "--yes")
    assert code == 0, out
    assert out.index("Pulled ") < out.index("Done: sent")
    assert listed(lists.pages) == PAGES[setup]  # every page, before the first message

    skipped = {reader(3), reader(7), reader(11)} | ({reader(13)} if "group" in setup else set())
    requests = sends(name, httpserver)
    got = [address for request in requests for address in recipients_of(name, request)]
    assert sorted(got) == sorted({reader(n) for n in range(READERS)} - skipped)
    assert f"Done: sent {READERS - len(skipped)} now" in out

    for request in requests:
        data = request.get_data(as_text=True)
        assert [trace for trace in our_unsubscribe_traces("send-test") if trace in data] == []
        html, text = provider_bodies(name, request)
        assert f'href="{link}"' in html and link in text
    assert_esp_handling(setup, requests[0])


def provider_bodies(name: str, request: Request) -> tuple[str, str]:
    """The HTML and text as one request to ``name`` carries them."""
    if name == "mailgun":
        return request.form["html"], request.form["text"]
    if name == "sendgrid":
        text, html = request.get_json()["content"]
        return html["value"], text["value"]
    first = request.get_json()[0]
    return first["HtmlBody"], first["TextBody"]


def assert_esp_handling(setup: str, request: Request) -> None:
    """The provider's own unsubscribe handling is what the request asks for."""
    if setup == "mailgun":
        form = request.form
        assert "o:tracking" not in form  # it would turn unsubscribe tracking off too
        assert (form["o:tracking-clicks"], form["o:tracking-opens"]) == ("no", "no")
        assert not [key for key in form if "unsubscribe" in key.lower()]
    elif setup.startswith("sendgrid"):
        body = request.get_json()
        tracking = body["tracking_settings"]["subscription_tracking"]
        if setup == "sendgrid-group":
            assert body["asm"] == {"group_id": 123} and tracking == {"enable": False}
        else:
            assert "asm" not in body
            assert tracking == {"enable": True, "substitution_tag": "[unsubscribe_url]"}
        assert body["tracking_settings"]["click_tracking"]["enable"] is False
    else:
        for message in request.get_json():
            assert message["MessageStream"] == "broadcast"
            assert {h["Name"] for h in message["Headers"]} == {"List-Id", "Message-ID"}


@pytest.mark.parametrize(
    ("answer", "code", "words"),
    [
        (Response("upstream down", 503), 3, "answered HTTP 503"),
        (Response(json.dumps({"message": "Invalid private key"}), 401), 2,
         "Mailgun (HTTP 401): /v3/domains/mg.example.org/tracking: Invalid private key"),
    ],
    ids=["unreachable", "key refused"],
)
def test_a_pull_that_fails_stops_the_send(
    answer: Response, code: int, words: str, news: Path, httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    use("mailgun", httpserver, monkeypatch)
    lists = esp_lists("mailgun", httpserver, time.time())
    lists.failure = answer
    accept_sends("mailgun", httpserver)
    result, out = mailer("send", news, "--yes")
    assert result == code and words in out, out
    assert sends("mailgun", httpserver) == []
    assert not Path(".mailer/ledger.sqlite3").exists()


def test_send_stops_when_mailgun_would_not_fill_its_link(
    news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use("mailgun", httpserver, monkeypatch)
    lists = esp_lists("mailgun", httpserver, time.time())
    lists.unsubscribe_tracking = False
    accept_sends("mailgun", httpserver)
    code, out = mailer("send", news, "--yes")
    assert code == 2, out
    assert "unsubscribe tracking is off for mg.example.org" in out
    assert "Tracking > Unsubscribe tracking" in out
    assert sends("mailgun", httpserver) == []
    assert mailer("suppressions", "pull", "--esp")[0] == 0  # reading the lists needs it not


def test_send_refuses_another_transport_than_the_esp(
    news: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_TRANSPORT", "mailgun://mg.example.org")
    code, out = mailer("send", news, "--yes", "--transport", "outbox://outbox")
    assert code == 2
    assert 'unsubscribe = "esp": readers unsubscribe with the ESP\'s own link' in out
    assert not Path("outbox").exists()


# -- mailer status counts them ----------------------------------------------------------------


@pytest.mark.parametrize("setup", ["mailgun", "sendgrid", "postmark"])
def test_status_counts_what_readers_did_at_the_esp(
    setup: str, news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = SETUPS[setup][0]
    use(setup, httpserver, monkeypatch)
    lists = esp_lists(setup, httpserver, time.time() - DAY)
    accept_sends(name, httpserver)
    assert mailer("send", news, "--yes")[0] == 0
    sent = READERS - 3
    # After the send: two readers unsubscribe at the ESP, one bounces, one complains.
    later = int(time.time()) + 5
    lists.entries += [
        Suppressed("unsubscribed", reader(0), later), Suppressed("unsubscribed", reader(1), later),
        Suppressed("bounced", reader(2), later, "5.2.2 mailbox full for good"),
        Suppressed("complained", reader(4), later),
    ]
    code, out = mailer("suppressions", "pull", "--esp")
    assert code == 0 and "4 new here" in out, out
    code, out = mailer("status", news)
    assert code == 0, out
    assert (f"feedback: 2 unsubscribed ({2 / sent:.1%} of {sent} sent), 1 hard bounce "
            f"({1 / sent:.1%} of {sent} sent), 1 complaint ({1 / sent:.1%} of {sent} sent)") in out
    # Those on the lists before the send were never sent this issue: not its feedback.
    report = json.loads(mailer("status", news, "--json")[1])
    assert report["feedback"]["unsubscribed"]["addresses"] == 2
    with Ledger(Path(".mailer/ledger.sqlite3"), read_only=True) as ledger:
        assert not ledger.was_sent("send-test", reader(3))


def test_an_esp_entry_counts_for_the_issue_last_sent_before_it(
    news: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use("postmark", httpserver, monkeypatch)
    lists = esp_lists("postmark", httpserver, time.time() - DAY)
    accept_sends("postmark", httpserver)
    assert mailer("send", news, "--yes")[0] == 0
    second = news.with_name("second.yaml")
    second.write_text(news.read_text("utf-8").replace("id: send-test", "id: second"), "utf-8")
    time.sleep(1.1)  # the ledger keeps whole seconds
    assert mailer("send", second, "--yes")[0] == 0
    lists.entries.append(Suppressed("unsubscribed", reader(0), int(time.time()) + 5))
    assert mailer("suppressions", "pull", "--esp")[0] == 0
    first_report = json.loads(mailer("status", news, "--json")[1])
    second_report = json.loads(mailer("status", second, "--json")[1])
    assert first_report["feedback"]["unsubscribed"]["addresses"] == 0
    assert second_report["feedback"]["unsubscribed"]["addresses"] == 1

