"""``mailer serve`` as it runs: the real command (waitress) in a subprocess on loopback,
driven with ``requests``: one-click unsubscribes exactly as RFC 8058 shows them, the page and
its button, forged tokens, oversized bodies, each provider's webhook signed right and wrong,
replayed and duplicated; the suppressions for ``pull``; and the whole loop with a send."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path
from typing import IO

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

from mailer.audience.store import SuppressionStore
from mailer.audience.unsubscribe import UnsubscribeLinks
from mailer.cli import app
from mailer.delivery.message_ids import message_id_for
from mailer.feedback.webhooks import MAX_BODY_BYTES

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


@dataclass
class Server:
    """A running ``mailer serve``: its base URL, its process, and what it writes to stderr."""

    base: str
    process: subprocess.Popen[bytes]
    errors: IO[bytes]  # its standard error: a file, then a copy of it once it stopped

    def stderr(self) -> str:
        """What the server wrote to standard error so far (its log)."""
        self.errors.seek(0)
        return self.errors.read().decode("utf-8", "replace")


@contextmanager
def running(
    project: Path, environ: dict[str, str] | None = None, arguments: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``mailer serve`` (with ``arguments``) in a subprocess, once it answers."""
    port = free_port()
    env = {**os.environ, **ENVIRONMENT, **(environ or {})}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", "from mailer.cli import main; main()", "serve", "--port",
             str(port), *arguments],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=errors,
        )
        server = Server(f"http://127.0.0.1:{port}", process, errors)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, server.stderr()
                try:
                    if requests.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "mailer serve did not answer"
                time.sleep(0.05)
            yield server
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            errors.seek(0)
            server.errors = io.BytesIO(errors.read())  # still there once the file is gone


@contextmanager
def serving(
    project: Path, environ: dict[str, str] | None = None, arguments: tuple[str, ...] = ()
) -> Iterator[str]:
    """``mailer serve`` (with ``arguments``) in a subprocess; its base URL once it answers."""
    with running(project, environ, arguments) as server:
        yield server.base


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One running server, and its project, for the tests that only read from it or are
    refused: each checks that its requests wrote nothing, which holds only while no test
    that writes shares it."""
    folder = tmp_path_factory.mktemp("untouched") / "news"
    make_project(folder)
    with serving(folder) as base:
        yield folder, base


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


def test_the_unsubscribe_counts_for_the_issue_its_token_names(project: Path) -> None:
    """The token says which issue the reader left from, authenticated: a link's ``?issue=``
    cannot move the unsubscribe to another issue."""
    token = UnsubscribeLinks(
        SECRET, LIST_ID, "https://turkiye.iom.int/newsletter/unsubscribe?token={token}", None,
        issue="send-test",
    ).token("omar@example.net")
    with serving(project) as base:
        answer = requests.post(
            f"{base}/newsletter/unsubscribe?token={token}&issue=another-issue",
            data="List-Unsubscribe=One-Click", allow_redirects=False, timeout=5,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    with store_of(project) as store:
        assert list(store.feedback("send-test")) == [("unsubscribed", "omar@example.net")]
        assert list(store.feedback("another-issue")) == []


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


def test_a_reader_already_unsubscribed_is_told_so_in_their_language_without_a_button(
    project: Path,
) -> None:
    already = {
        "en": "This address is already unsubscribed",
        "tr": "Bu adresin aboneliği zaten iptal edilmiş",
        "ar": "سبق إلغاء اشتراك هذا العنوان",
    }
    with serving(project) as base:
        url = unsubscribe_url(base, "ayse@example.org")
        asked = requests.get(url, timeout=5)
        first = requests.post(url, timeout=5)  # the button
        pages = {lang: requests.get(f"{url}&lang={lang}", timeout=5) for lang in already}
        again = requests.post(url, data="List-Unsubscribe=One-Click", timeout=5,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        other = requests.get(unsubscribe_url(base, "cagri@example.com"), timeout=5)
    assert "<button" in asked.text and first.status_code == 200
    for lang, page in pages.items():
        assert page.status_code == 200
        assert f'<html lang="{lang}"' in page.text and already[lang] in page.text
        assert "ayse@example.org" in page.text
        assert "<form" not in page.text and "<button" not in page.text
    assert again.status_code == 200 and "no more of this newsletter" in again.text  # idempotent
    assert "<button" in other.text  # only that reader
    with store_of(project) as store:
        assert [(e.email, e.source) for e in store.entries()] == [("ayse@example.org", "page")]


@pytest.mark.parametrize(
    ("lang", "accept", "expected"),
    [("tr", "", ("tr", "ltr", "Abonelikten çık")),
     ("ar", "en", ("ar", "rtl", "إلغاء الاشتراك")),  # the link's language beats the browser's
     ("", "tr-TR,tr;q=0.9,en;q=0.5", ("tr", "ltr", "Abonelikten çık")),
     ("xx", "", ("en", "ltr", ">Unsubscribe<"))],
)
def test_the_page_speaks_the_language_of_the_readers_edition(
    untouched: tuple[Path, str], lang: str, accept: str, expected: tuple[str, str, str]
) -> None:
    language, direction, button = expected
    _, base = untouched
    url = unsubscribe_url(base, "ayse@example.org") + f"&lang={lang}"
    page = requests.get(url, headers={"Accept-Language": accept}, timeout=5)
    assert page.status_code == 200
    assert f'<html lang="{language}" dir="{direction}">' in page.text
    assert button in page.text


@pytest.mark.parametrize("kind", ["forged", "truncated", "another list", "another secret", "none"])
def test_a_bad_token_is_a_400_and_writes_nothing(
    untouched: tuple[Path, str], kind: str
) -> None:
    project, base = untouched
    token = links().token("ayse@example.org")
    bad = {
        "forged": links().token("ayse@example.org").split(".")[0] + "." + "A" * 43,
        "truncated": token[:-5],
        "another list": links(list_id="other.example.org").token("ayse@example.org"),
        "another secret": links(secret="x" * 40).token("ayse@example.org"),
        "none": "",
    }[kind]
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


def spooled(pid: int, folder: Path) -> int:
    """The bytes of the files in ``folder``, counting those that process ``pid`` holds open
    there without a name: a POSIX temporary file is unlinked as soon as it is made, so only
    Linux's /proc shows it (elsewhere, where there is no /proc, the folder's files are all)."""
    total = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    descriptors = Path(f"/proc/{pid}/fd")
    if descriptors.is_dir():
        for descriptor in descriptors.iterdir():
            try:
                if os.readlink(descriptor).startswith(f"{folder}{os.sep}"):
                    total += descriptor.stat().st_size
            except OSError:  # closed meanwhile
                continue
    return total


@contextmanager
def connected(base: str) -> Iterator[socket.socket]:
    """A raw TCP connection to the server, for requests no HTTP client would send."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        yield connection


def answer_of(connection: socket.socket) -> bytes:
    """What the server answers, up to its closing the connection (the 10 s timeout raises).

    A server that answers before it has read the whole body closes with bytes still unread, so
    the kernel may end the connection with a reset rather than an end of file: once the answer
    has arrived, that reset is its end too."""
    answer = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            if not answer:
                raise
            return answer
        if not chunk:
            return answer
        answer += chunk


def test_a_longer_content_length_is_answered_413_before_the_body_is_sent(
    project: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    with running(project, {"TMPDIR": str(spool)}) as server, connected(server.base) as connection:
        connection.sendall(
            b"POST /webhooks/sendgrid HTTP/1.1\r\nHost: example.org\r\n"
            b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n"
        )  # and never the body
        answer = answer_of(connection)
        assert spooled(server.process.pid, spool) == 0
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_chunked_body_is_not_read_past_the_cap(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    piece = 64 * 1024
    pieces, rest = divmod(MAX_BODY_BYTES + 1, piece)
    chunked = b"".join([b"%x\r\n%s\r\n" % (piece, b" " * piece)] * pieces
                       + [b"%x\r\n%s\r\n" % (rest, b" " * rest)])  # never the last chunk
    with running(project, {"TMPDIR": str(spool)}) as server, connected(server.base) as connection:
        with suppress(BrokenPipeError, ConnectionResetError):  # refused before the last byte
            connection.sendall(
                b"POST /webhooks/sendgrid HTTP/1.1\r\nHost: example.org\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunked
            )
        answer = answer_of(connection)
        deadline = time.monotonic() + 10
        while (left := spooled(server.process.pid, spool)) and time.monotonic() < deadline:
            time.sleep(0.05)  # the request's spooled part is closed just after the answer
        with store_of(project) as store:
            assert len(store) == 0
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert left == 0


def test_each_refused_request_is_one_line_of_the_log_with_no_secret(project: Path) -> None:
    """A rotated webhook key, a forged link, a wrong sync token, a webhook that is off, a body
    over the cap: each is logged, so none is dropped silently, and nothing secret is."""
    webhook_body = fixture("mailgun", "complained")
    headers, signed = mailgun_request(webhook_body, key="rotated-key", timestamp=time.time())
    forged = links(secret="x" * 40).token("ayse@example.org")
    bearer = "Bearer a-guessed-token-0123456789"
    with running(project, {"MAILER_WEBHOOK_PASSWORD": ""}) as server:  # Postmark off
        base = server.base
        answers = [
            requests.post(f"{base}/webhooks/mailgun", data=signed, headers=headers, timeout=5),
            requests.get(f"{base}/newsletter/unsubscribe?token={forged}&lang=tr", timeout=5),
            requests.get(f"{base}/suppressions", headers={"Authorization": bearer}, timeout=5),
            requests.post(f"{base}/webhooks/postmark", data=b"{}", timeout=5),
        ]
        with connected(base) as connection:
            connection.sendall(b"POST /webhooks/sendgrid?key=value HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 900000000\r\n\r\n")
            too_large = answer_of(connection)
        requests.get(f"{base}/healthz", timeout=5)  # answered: not a line
    log = server.stderr()
    assert [a.status_code for a in answers] == [403, 400, 401, 404]
    assert too_large.startswith(b"HTTP/1.1 413 ")
    refusals = [re.search(r" refused (.+)$", line)[1] for line in log.splitlines()
                if " refused " in line]
    assert refusals == [
        "POST /webhooks/mailgun: 403 Mailgun: wrong signature (is MAILGUN_WEBHOOK_SIGNING_KEY "
        "the domain's HTTP webhook signing key?)",
        "GET /newsletter/unsubscribe: 400 the unsubscribe token is not valid",
        "GET /suppressions: 401 a valid bearer token is needed",
        "POST /webhooks/postmark: 404 not enabled on this server",
        f"POST /webhooks/sendgrid: 413 the body is over {MAX_BODY_BYTES:,} bytes",
    ]
    assert "webhook /webhooks/postmark is off" in log  # and the server's own news
    secrets = [SECRET, SYNC_TOKEN, MAILGUN_KEY, POSTMARK_PASSWORD, forged, bearer, "token=",
               "key=value", "ayse@example.org"]
    sent = json.loads(signed)
    secrets += [sent["signature"]["token"], sent["signature"]["signature"],
                sent["event-data"]["recipient"]]
    assert [secret for secret in secrets if secret in log] == []


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
    assert feedback["unsubscribed"] == {"addresses": 1, "rate": 0.05, "of_sent": 20}
    assert feedback["complained"] == {"addresses": 1, "rate": 0.05, "of_sent": 20}
    assert "complaints are at" not in status.output  # 20 messages: too few to judge a rate

    (project / "outbox").rename(project / "first-outbox")
    second = CliRunner().invoke(app, ["send", str(issue), "--yes", "--ledger", "second.sqlite3"])
    assert second.exit_code == 0, second.output
    reached = outbox_recipients(project)
    assert len(reached) == 18
    assert addresses[3] not in reached and addresses[7] not in reached


def outbox_recipients(project: Path) -> Counter[str]:
    """How many messages the project's outbox holds for each address (its To: header)."""
    return Counter(
        parseaddr(message_from_bytes(path.read_bytes())["To"])[1].lower()
        for path in (project / "outbox" / "new").iterdir()
    )


@pytest.mark.slow
def test_unsubscribes_during_a_running_send_lose_nothing(project: Path, tmp_path) -> None:
    """Many parallel one-click POSTs while a send writes the same store: every one is
    recorded, none sees "database is locked", the send finishes, and no one who unsubscribed
    before the send came to their message gets it; everyone else gets it once."""
    addresses = write_subscribers(project / "subscribers.example.csv", 3000)
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET, "MAILER_CONCURRENCY": "2"}
    env.pop("MAILER_TRANSPORT", None)
    first_leaving = 2000
    leaving = addresses[first_leaving:first_leaving + 200]
    outbox = project / "outbox" / "new"
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

        deadline = time.monotonic() + 60
        while not (outbox.is_dir() and any(outbox.iterdir())):  # the send is under way
            assert send.poll() is None and time.monotonic() < deadline, send.communicate()
            time.sleep(0.02)
        workers = [threading.Thread(target=unsubscribe, args=(leaving[n::8],)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        # Its two workers may hold a batch of 50 each, claimed but not yet written.
        written = len(list(outbox.iterdir()))
        assert written + 2 * 50 < first_leaving, "the send came to the leaving readers first"
        out, err = send.communicate(timeout=120)
    assert send.returncode == 0, err
    assert answers == [200] * len(leaving)
    assert "locked" not in out + err
    with store_of(project) as store:
        assert all(store.reason(address) == "unsubscribed" for address in leaving)
    received = outbox_recipients(project)
    assert [address for address in leaving if address in received] == []
    assert received == Counter(set(addresses) - set(leaving))  # everyone else, once
