"""``mailer serve`` as it runs: the real command (waitress) in a subprocess on loopback,
driven with ``requests``: one-click unsubscribes exactly as RFC 8058 shows them, the page and
its button, forged tokens, oversized bodies, each provider's webhook signed right and wrong,
replayed and duplicated; the suppressions for ``pull``; and the whole loop with a send."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sending import free_port, make_project, write_subscribers
from typer.testing import CliRunner
from webhook_requests import (
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    SENDGRID_KEY,
    fixture,
    mailgun_request,
    postmark_request,
    public_key_text,
    sendgrid_request,
)

from mailer.audience.suppression import SuppressionStore
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.cli import app
from mailer.delivery.message_ids import message_id_for

SECRET = "serve-test-secret-0123456789abcdef"
SYNC_TOKEN = "sync-token-for-the-laptop-0123456789"
LIST_ID = "newsletter.turkiye.iom.int"
ENVIRONMENT = {
    "MAILER_UNSUBSCRIBE_SECRET": SECRET,
    "MAILER_SYNC_TOKEN": SYNC_TOKEN,
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_text(SENDGRID_KEY),
    "MAILER_WEBHOOK_USER": POSTMARK_USER,
    "MAILER_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A newsletter project with an issue; its folder."""
    make_project(tmp_path / "news")
    return tmp_path / "news"


@contextmanager
def serving(
    project: Path, environ: dict[str, str] | None = None, arguments: tuple[str, ...] = ()
) -> Iterator[str]:
    """``mailer serve`` (with ``arguments``) in a subprocess; its base URL once it answers."""
    port = free_port()
    env = {**os.environ, **ENVIRONMENT, **(environ or {})}
    process = subprocess.Popen(
        [sys.executable, "-c", "from mailer.cli import main; main()", "serve", "--port", str(port),
         *arguments],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "mailer serve did not answer"
            time.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def links(list_id: str = LIST_ID, secret: str = SECRET) -> UnsubscribeLinks:
    return UnsubscribeLinks(
        secret, list_id, "https://turkiye.iom.int/newsletter/unsubscribe?token={token}", None
    )


def store_of(project: Path) -> SuppressionStore:
    return SuppressionStore(project / ".mailer" / "suppressions.sqlite3")


def unsubscribe_url(base: str, address: str, issue: str | None = None) -> str:
    url = f"{base}/newsletter/unsubscribe?token={links().token(address)}"
    return url + (f"&issue={issue}" if issue else "")


# -- the unsubscribe link and one-click ----------------------------------------------------------


def test_one_click_exactly_as_rfc_8058_shows_it(project: Path) -> None:
    body = (
        "---FormBoundary1\r\n"
        'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        "One-Click\r\n"
        "---FormBoundary1--\r\n"
    )
    with serving(project) as base:
        url = unsubscribe_url(base, "ayse@example.org", issue="send-test")
        headers = {"Content-Type": "multipart/form-data; boundary=-FormBoundary1"}
        answer = requests.post(url, data=body, headers=headers, allow_redirects=False, timeout=5)
        again = requests.post(url, data="List-Unsubscribe=One-Click", allow_redirects=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              timeout=5)
    assert (answer.status_code, again.status_code) == (200, 200)  # no redirect, idempotent
    assert "Location" not in answer.headers
    with store_of(project) as store:
        (entry,) = store.entries()
    assert (entry.email, entry.reason, entry.source, entry.issue) == (
        "ayse@example.org", "unsubscribed", "one-click", "send-test",
    )


def test_the_page_asks_first_and_its_button_unsubscribes_without_javascript(project) -> None:
    with serving(project) as base:
        url = unsubscribe_url(base, "Cagri@example.com")
        page = requests.get(url, timeout=5)
        with store_of(project) as store:
            assert len(store) == 0  # opening the link (a mail scanner does) changes nothing
        assert page.status_code == 200
        html = page.text
        assert '<html lang="en" dir="ltr">' in html and "<script" not in html
        assert "IOM Turkey Newsletter" in html and "cagri@example.com" in html
        action = html.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        done = requests.post(base + action, timeout=5)  # the button, as a text browser sends it
    assert done.status_code == 200 and "no more of this newsletter" in done.text
    with store_of(project) as store:
        assert [(e.email, e.source) for e in store.entries()] == [("cagri@example.com", "page")]


@pytest.mark.parametrize(
    ("lang", "accept", "expected"),
    [("tr", "", ("tr", "ltr", "Abonelikten çık")),
     ("ar", "en", ("ar", "rtl", "إلغاء الاشتراك")),  # the link's language beats the browser's
     ("", "tr-TR,tr;q=0.9,en;q=0.5", ("tr", "ltr", "Abonelikten çık")),
     ("xx", "", ("en", "ltr", ">Unsubscribe<"))],
)
def test_the_page_speaks_the_language_of_the_readers_edition(
    project: Path, lang: str, accept: str, expected: tuple[str, str, str]
) -> None:
    language, direction, button = expected
    with serving(project) as base:
        url = unsubscribe_url(base, "ayse@example.org") + f"&lang={lang}"
        page = requests.get(url, headers={"Accept-Language": accept}, timeout=5)
    assert page.status_code == 200
    assert f'<html lang="{language}" dir="{direction}">' in page.text
    assert button in page.text


@pytest.mark.parametrize("kind", ["forged", "truncated", "another list", "another secret", "none"])
def test_a_bad_token_is_a_400_and_writes_nothing(project: Path, kind: str) -> None:
    token = links().token("ayse@example.org")
    bad = {
        "forged": links().token("ayse@example.org").split(".")[0] + "." + "A" * 43,
        "truncated": token[:-5],
        "another list": links(list_id="other.example.org").token("ayse@example.org"),
        "another secret": links(secret="x" * 40).token("ayse@example.org"),
        "none": "",
    }[kind]
    with serving(project) as base:
        url = f"{base}/newsletter/unsubscribe?token={bad}"
        shown = requests.get(url, timeout=5)
        posted = requests.post(url, data="List-Unsubscribe=One-Click", timeout=5,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (shown.status_code, posted.status_code) == (400, 400)
    assert "not valid" in posted.text and "Traceback" not in posted.text
    with store_of(project) as store:
        assert len(store) == 0


def test_an_oversized_body_is_refused_before_it_is_read(project: Path) -> None:
    with serving(project) as base:
        answer = requests.post(
            unsubscribe_url(base, "ayse@example.org"), data=b"x" * (6 * 1024 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30,
        )
        webhook = requests.post(f"{base}/webhooks/sendgrid", data=b"[" + b" " * 6_000_000 + b"]",
                                timeout=30)
    assert (answer.status_code, webhook.status_code) == (413, 413)
    with store_of(project) as store:
        assert len(store) == 0


def test_it_refuses_to_start_without_the_signing_secret(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MAILER_UNSUBSCRIBE_SECRET"}
    done = subprocess.run(
        [sys.executable, "-c", "from mailer.cli import main; main()", "serve", "--port",
         str(free_port())], cwd=project, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "MAILER_UNSUBSCRIBE_SECRET" in done.stderr and "Traceback" not in done.stderr


# -- the archive ----------------------------------------------------------------------------------


def test_it_serves_the_built_site_and_nothing_beside_it(project: Path, monkeypatch) -> None:
    issue = project / "issues" / "send-test.yaml"
    issue.write_text(issue.read_text().replace("period:", "date: 2026-03-31\nperiod:"))
    with (project / "mailer.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[archive]\nbase_url = "https://news.example.org/"\n')
    monkeypatch.chdir(project)
    built = CliRunner().invoke(app, ["archive", "--all"])
    assert built.exit_code == 0, built.output
    site = project / "site"
    (site / ".hidden").write_text("not for the web")
    (site / "2026").mkdir()  # a folder without an index: never a listing
    (site / "linked.toml").symlink_to(project / "mailer.toml")
    image = next((site / "images").iterdir()).name
    with serving(project, arguments=("--archive", "site")) as base:
        def get(path: str, method: str = "GET") -> requests.Response:
            return requests.request(method, base + path, allow_redirects=False, timeout=5)

        home, page, head = get("/"), get("/send-test/"), get("/send-test/", "HEAD")
        moved, feed, sitemap, picture = (
            get("/send-test"), get("/feed.xml"), get("/sitemap.xml"), get(f"/images/{image}"),
        )
        missing = [get(path).status_code for path in (
            "/images/", "/2026/", "/.hidden", "/linked.toml", "/nothing/", "/send-test/x.html",
        )]
        escaping = [raw_get(base, path) for path in (
            "/../mailer.toml", "/%2e%2e/mailer.toml", "/images/..%2f..%2fmailer.toml",
        )]
        health = get("/healthz")
        unsubscribe = get("/newsletter/unsubscribe?token=forged")
    assert (home.status_code, home.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert 'href="send-test/"' in home.text and "News for" in home.text
    assert "script-src" not in home.headers["Content-Security-Policy"]  # default-src 'none'
    assert home.headers["X-Content-Type-Options"] == "nosniff"
    assert page.status_code == 200 and page.content == (site / "send-test/index.html").read_bytes()
    assert (head.status_code, head.content) == (200, b"")
    assert (moved.status_code, moved.headers["Location"]) == (301, "/send-test/")
    assert feed.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert sitemap.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert picture.headers["Content-Type"] == "image/png"
    assert "max-age=31536000" in picture.headers["Cache-Control"]
    assert missing == [404] * 6 and escaping == [404] * 3
    assert health.status_code == 200 and unsubscribe.status_code == 400  # its own routes win


def raw_get(base: str, path: str) -> int:
    """The status of GET ``path`` sent exactly as written (HTTP clients tidy ``..`` away)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


# -- the webhooks ---------------------------------------------------------------------------------


def ours(payload: bytes, theirs: str, address: str, issue: str = "send-test") -> bytes:
    return payload.replace(theirs.encode(), message_id_for(issue, address, "iom.int").encode())


def tampered(request: tuple[dict[str, str], bytes]) -> tuple[dict[str, str], bytes]:
    """The signed headers with a body changed after signing."""
    headers, body = request
    return headers, body.replace(b"example", b"exemple")


def test_each_webhook_signed_right_suppresses_and_signed_wrong_writes_nothing(project) -> None:
    now = time.time()
    mailgun_body = fixture("mailgun", "failed-permanent")
    sendgrid_body = fixture("sendgrid", "spamreport")
    postmark_body = fixture("postmark", "subscription-change")
    with serving(project) as base:
        def post(name: str, request: tuple[dict[str, str], bytes]) -> requests.Response:
            headers, body = request
            return requests.post(f"{base}/webhooks/{name}", data=body, headers=headers, timeout=5)

        wrong = [
            post("mailgun", mailgun_request(mailgun_body, key="wrong-key", timestamp=now)),
            post("mailgun", mailgun_request(mailgun_body, timestamp=now - 600)),  # stale
            post("sendgrid", tampered(sendgrid_request(sendgrid_body, timestamp=now))),
            post("postmark", postmark_request(postmark_body, password="guess")),
        ]
        assert [r.status_code for r in wrong] == [403, 403, 403, 401]
        with store_of(project) as store:
            assert len(store) == 0
        right = [
            post("mailgun", mailgun_request(mailgun_body, timestamp=now)),
            post("sendgrid", sendgrid_request(sendgrid_body, timestamp=now)),
            post("postmark", postmark_request(postmark_body)),
        ]
        probe = requests.head(f"{base}/webhooks/sendgrid", timeout=5)
    assert [r.status_code for r in right] == [200, 200, 200] and probe.status_code == 200
    with store_of(project) as store:
        reasons = {e.source: e.reason for e in store.entries()}
    assert reasons == {
        "webhook:mailgun": "bounced", "webhook:sendgrid": "complained",
        "webhook:postmark": "bounced",  # the documented change: SuppressionReason HardBounce
    }


def test_a_replayed_request_is_refused_and_a_duplicated_event_counts_once(project) -> None:
    now = time.time()
    body = fixture("mailgun", "complained")
    with serving(project) as base:
        headers, signed = mailgun_request(body, timestamp=now, token="a" * 50)
        first = requests.post(f"{base}/webhooks/mailgun", data=signed, headers=headers, timeout=5)
        replay = requests.post(f"{base}/webhooks/mailgun", data=signed, headers=headers, timeout=5)
        headers, again = mailgun_request(body, timestamp=now, token="b" * 50)  # sent twice
        duplicate = requests.post(f"{base}/webhooks/mailgun", data=again, headers=headers,
                                  timeout=5)
    assert (first.status_code, replay.status_code, duplicate.status_code) == (200, 403, 200)
    assert first.json()["recorded"] == 1
    assert duplicate.json() == {"recorded": 0, "duplicates": 1, "suppressed": 0, "ignored": 0}


def test_a_webhook_without_its_secrets_is_off_and_accepts_nothing(project: Path) -> None:
    headers, body = mailgun_request(fixture("mailgun", "complained"), timestamp=time.time())
    with serving(project, {"MAILGUN_WEBHOOK_SIGNING_KEY": ""}) as base:
        answer = requests.post(f"{base}/webhooks/mailgun", data=body, headers=headers, timeout=5)
    assert answer.status_code == 404


# -- pull, and the whole loop with a send ---------------------------------------------------------


def test_pull_copies_the_servers_suppressions_to_a_laptop(project: Path, tmp_path) -> None:
    laptop = tmp_path / "laptop"
    make_project(laptop)
    with serving(project) as base:
        requests.post(unsubscribe_url(base, "ayse@example.org"), timeout=5,
                      data="List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        refused = requests.get(f"{base}/suppressions", timeout=5,
                               headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        result = CliRunner().invoke(
            app, ["suppressions", "pull", base, "--settings", str(laptop / "mailer.toml")],
            env={"MAILER_SYNC_TOKEN": SYNC_TOKEN},
        )
    assert result.exit_code == 0, result.output
    assert "Pulled 1 suppressions" in result.output
    with SuppressionStore(laptop / ".mailer" / "suppressions.sqlite3") as store:
        assert store.reason("ayse@example.org") == "unsubscribed"
        assert store.last_pull() is not None


def test_send_unsubscribe_complain_status_and_the_next_send_skips_both(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    addresses = write_subscribers(project / "subscribers.example.csv", 20)
    issue = project / "issues" / "send-test.yaml"
    first = CliRunner().invoke(app, ["send", str(issue), "--yes"])
    assert first.exit_code == 0, first.output
    with serving(project) as base:
        one_click = requests.post(
            unsubscribe_url(base, addresses[3], issue="send-test"), timeout=5,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        complaint = fixture("sendgrid", "spamreport").replace(
            b"example@test.com", addresses[7].encode()
        )
        event = json.loads(complaint)
        for item in event:
            item["mailer_message_id"] = message_id_for("send-test", addresses[7], "iom.int")
        headers, body = sendgrid_request(json.dumps(event).encode(), timestamp=time.time())
        webhook = requests.post(f"{base}/webhooks/sendgrid", data=body, headers=headers,
                                timeout=5)
    assert (one_click.status_code, webhook.status_code) == (200, 200), webhook.text
    status = CliRunner().invoke(app, ["status", str(issue), "--json"])
    feedback = json.loads(status.stdout)["feedback"]
    assert feedback["unsubscribed"] == {"addresses": 1, "rate": 0.05}
    assert feedback["complained"] == {"addresses": 1, "rate": 0.05}
    assert "complaints are at 5.00% of messages sent" in status.output  # over 0.1 %

    (project / "outbox").rename(project / "first-outbox")
    second = CliRunner().invoke(app, ["send", str(issue), "--yes", "--ledger", "second.sqlite3"])
    assert second.exit_code == 0, second.output
    reached = {path.read_text().split("\nTo: ", 1)[1].split("\n", 1)[0].strip()
               for path in (project / "outbox" / "new").iterdir()}
    assert len(reached) == 18
    assert not any(addresses[3] in to or addresses[7] in to for to in reached)


@pytest.mark.slow
def test_unsubscribes_during_a_running_send_lose_nothing(project: Path, tmp_path) -> None:
    """Many parallel one-click POSTs while a send writes the same store: every one is
    recorded, none sees "database is locked", the send finishes, and no one who unsubscribed
    before their message was handed over gets it."""
    addresses = write_subscribers(project / "subscribers.example.csv", 3000)
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET, "MAILER_CONCURRENCY": "2"}
    env.pop("MAILER_TRANSPORT", None)
    leaving = addresses[1000:1200]
    with serving(project) as base:
        send = subprocess.Popen(
            [sys.executable, "-c", "from mailer.cli import main; main()", "send",
             "issues/send-test.yaml", "--yes"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        answers: list[int] = []
        lock = threading.Lock()

        def unsubscribe(chunk: list[str]) -> None:
            with requests.Session() as session:
                for address in chunk:
                    code = session.post(
                        unsubscribe_url(base, address), data="List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30,
                    ).status_code
                    with lock:
                        answers.append(code)

        time.sleep(1.5)  # the send is under way (it starts in about a second)
        workers = [threading.Thread(target=unsubscribe, args=(leaving[n::8],)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        out, err = send.communicate(timeout=120)
    assert send.returncode == 0, err
    assert answers == [200] * len(leaving)
    assert "locked" not in out + err
    with store_of(project) as store:
        assert all(store.reason(address) == "unsubscribed" for address in leaving)
