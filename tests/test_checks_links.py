"""The links check: static problems offline, and real fetches against a loopback HTTP server.

The server (pytest-httpserver over TLS with a throwaway certificate, threaded so a slow answer
holds up nobody else) serves 200, 301, 404, 500, a slow answer and a HEAD-refusing page. Every
URL of the test project, including the settings' website and unsubscribe page, points at it:
nothing leaves the machine.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mailer.checks import CheckOptions, Finding
from mailer.checks.links import CACHE_FILE, check, url_uses
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

SETTINGS = """
[brand]
organisation = "Example Aid"
logo = "issues/assets/iom-logo.png"
website = "{base}/home"

[sender]
name = "Example Aid"
address = "news@example.org"

[footer]
postal_address = "1 Example Street, 06610 Ankara"
reason = "You subscribed to news from Example Aid."

[list]
id = "news.example.org"
unsubscribe_url = "{base}/unsubscribe?token={{token}}"

[[social]]
network = "website"
url = "{base}/social"
"""

FAST = CheckOptions(connect_timeout=1, read_timeout=0.5, cache_ttl=0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (the unsubscribe page must be https)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def server(certificate: tuple[Path, Path]) -> Iterator[HTTPServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(autouse=True)
def trust_the_test_certificate(monkeypatch, certificate: tuple[Path, Path]) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))


@pytest.fixture
def web(server: HTTPServer) -> HTTPServer:
    """The loopback site: every page the settings link to answers 200."""
    server.clear()
    server.clear_all_handlers()
    for page in ("/home", "/unsubscribe", "/social", "/ok"):
        server.expect_request(page).respond_with_data("fine")
    server.expect_request("/moved").respond_with_data(
        "", status=301, headers={"Location": server.url_for("/ok")}
    )
    server.expect_request("/missing").respond_with_data("no such page", status=404)
    server.expect_request("/broken").respond_with_data("oops", status=500)
    server.expect_request("/nohead", method="HEAD").respond_with_data("", status=405)
    server.expect_request("/nohead", method="GET").respond_with_data("fine")

    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    server.expect_request("/slow").respond_with_handler(slow)
    return server


def make_issue(project, web: HTTPServer, *paths: str, body: str = "A story.") -> Path:
    """An issue whose lead links to each of ``paths`` on the loopback site (body on line 6)."""
    base = web.url_for("").rstrip("/")
    project.settings.write_text(SETTINGS.format(base=base), encoding="utf-8")
    links = "".join(
        f"\n    - label: Page {index}\n      url: {base}{path}" for index, path in enumerate(paths)
    )
    return project.write_issue(
        "id: links-test\nsubject: Links test\npreheader: Testing links.\nlead:\n"
        f"  title: A story with links\n  body: {json.dumps(body)}\n  links:{links}\n"
    )


def run(path: Path, options: CheckOptions = FAST, *, offline: bool = False) -> list[Finding]:
    loaded = load(path)
    prepared = prepare(loaded, real_send=False)
    return check(loaded, prepared, options=replace(options, offline=offline))


def about(findings: list[Finding], fragment: str) -> list[Finding]:
    return [f for f in findings if fragment in f.message and f.severity != "info"]


def test_a_good_page_gives_no_finding(project, web):
    findings = run(make_issue(project, web, "/ok"))
    assert [f for f in findings if f.severity != "info"] == []


def test_a_redirect_is_reported_with_its_final_address(project, web):
    findings = about(run(make_issue(project, web, "/moved")), "/moved")
    assert [f.severity for f in findings] == ["warning"]
    assert "redirects (301)" in findings[0].message
    assert findings[0].fix == f"link straight to {web.url_for('/ok')}"


def test_a_missing_page_is_an_error_at_its_yaml_line(project, web):
    path = make_issue(project, web, "/ok", "/missing")
    findings = about(run(path), "/missing")
    assert [f.severity for f in findings] == ["error"]
    assert "HTTP 404 Not Found" in findings[0].message
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "/missing" in text)
    assert (findings[0].location.path, findings[0].location.line) == (path, line)


def test_a_server_error_is_an_error(project, web):
    findings = about(run(make_issue(project, web, "/broken")), "/broken")
    assert [f.severity for f in findings] == ["error"]
    assert "HTTP 500" in findings[0].message
    assert "try again later" in findings[0].fix


def test_a_slow_page_times_out_as_an_error(project, web):
    started = time.perf_counter()
    findings = about(run(make_issue(project, web, "/slow")), "/slow")
    # Gave up at the read timeout: the slow page (1.5 s) had not answered yet. (Not a bound on
    # the elapsed time, which a busy machine stretches.)
    assert not any(request.path == "/slow" for request, _ in web.log)
    assert [f.severity for f in findings] == ["error"]
    assert "no answer within 0.5 s" in findings[0].message
    # The server is still answering; let it finish so its request is not logged in the next
    # test's (the server is shared by the whole module).
    while not any(request.path == "/slow" for request, _ in web.log):
        assert time.perf_counter() - started < 5, "the slow page never finished"
        time.sleep(0.05)


def test_a_refused_head_falls_back_to_get(project, web):
    findings = about(run(make_issue(project, web, "/nohead")), "/nohead")
    assert findings == []
    methods = [request.method for request, _ in web.log if request.path == "/nohead"]
    assert methods == ["HEAD", "GET"]


def test_an_unknown_host_is_an_error(project, web):
    path = make_issue(project, web, "/ok")
    text = path.read_text().replace(web.url_for("/ok"), "https://no-such-host.invalid/page")
    path.write_text(text)
    findings = about(run(path), "no-such-host.invalid")
    assert [f.severity for f in findings] == ["error"]
    assert "does not exist" in findings[0].message


def test_settings_links_are_checked_at_their_mailer_toml_line(project, web):
    web.clear_all_handlers()
    web.expect_request("/ok").respond_with_data("fine")  # the website, social, unsubscribe: 500
    findings = [f for f in run(make_issue(project, web, "/ok")) if f.severity == "error"]
    toml = project.settings.read_text().splitlines()
    lines = {f.location.line for f in findings if f.location.path == project.settings}
    assert lines == {
        next(n for n, text in enumerate(toml, 1) if text.startswith(key))
        for key in ("website", "unsubscribe_url", "url")
    }
    unsubscribe = [f for f in findings if "unsubscribe page" in f.message]
    assert [r.path for r, _ in web.log].count("/unsubscribe") == 1
    assert all("token" not in r.query_string.decode() for r, _ in web.log)
    assert unsubscribe


def test_the_cache_makes_a_rerun_fetch_nothing(project, web):
    path = make_issue(project, web, "/ok", "/nohead", "/moved")
    cached = CheckOptions(connect_timeout=1, read_timeout=1, cache_ttl=600)
    first = run(path, cached)
    requests_made = len(web.log)
    assert requests_made > 0
    assert (project.root / CACHE_FILE).is_file()
    second = run(path, cached)
    assert len(web.log) == requests_made
    assert second == first


def test_the_cache_does_not_keep_failures(project, web):
    path = make_issue(project, web, "/missing")
    cached = CheckOptions(connect_timeout=1, read_timeout=1, cache_ttl=600)
    run(path, cached)
    before = [r.path for r, _ in web.log].count("/missing")
    assert about(run(path, cached), "/missing")
    assert [r.path for r, _ in web.log].count("/missing") == before + 1


# --- static checks: no network needed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "severity", "words"),
    [
        ("[the report]()", "error", "empty link"),
        ("[the report](#)", "error", "goes nowhere"),
        ("[the report](javascript:alert(1))", "error", "javascript:"),
        ("[the report](www.example.org/report)", "error", "not a complete web address"),
        ("[the report](http://www.example.org/report)", "warning", "plain http://"),
    ],
)
def test_a_bad_link_in_text_is_found_offline(project, web, markdown, severity, words):
    path = make_issue(project, web, "/ok", body=f"Read {markdown} today.")
    findings = [f for f in run(path, offline=True) if words in f.message]
    assert [f.severity for f in findings] == [severity]
    assert findings[0].location.line == 6  # the body's line
    assert findings[0].fix
    assert web.log == []  # offline: nothing fetched


def test_a_good_link_in_text_passes_offline(project, web):
    body = "Read [the report](https://www.example.org/r) today."
    path = make_issue(project, web, "/ok", body=body)
    findings = run(path, offline=True)
    assert not [f for f in findings if "example.org/r" in f.message]
    assert "https://www.example.org/r" in [use.url for use in url_uses(load(path))]


def test_plain_http_is_flagged_offline_for_a_field_url(project, web):
    path = make_issue(project, web, "/ok")
    path.write_text(path.read_text().replace(web.url_for("/ok"), "http://www.example.org/ok"))
    findings = run(path, offline=True)
    assert {f.severity for f in findings if "/ok uses plain http://" in f.message} == {"warning"}


def test_hosted_images_nobody_uploaded_are_found_at_their_line(project, web):
    """With [send] image_base_url, each local image is fetched where the email will link it."""
    base = web.url_for("").rstrip("/")
    project.settings.write_text(
        SETTINGS.format(base=base) + f'\n[send]\nimage_base_url = "{base}/img/"\n',
        encoding="utf-8",
    )
    for uploaded in ("iom-logo.png", "website.png"):  # the logo and the social icon
        web.expect_request(f"/img/{uploaded}").respond_with_data(
            "png", content_type="image/png"
        )
    path = project.write_issue(
        "id: hosted\nsubject: Hosted images\npreheader: Images on a server.\nlead:\n"
        "  title: A story\n  image: {src: assets/photo.png, alt: A water point}\n"
        f"  links: [{{label: Read more, url: '{base}/ok'}}]\n"
    )
    problems = [f for f in run(path) if f.severity != "info"]
    assert [f.severity for f in problems] == ["error"], problems
    assert f"{base}/img/photo.png" in problems[0].message
    assert problems[0].location.line == 6  # the image's src
