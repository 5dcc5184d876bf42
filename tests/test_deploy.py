"""The deployment of ``mailer serve`` (deploy/), tested rather than only written.

Debian's real ``caddy``, with its own internal CA, runs the project's deploy/Caddyfile in front
of the real ``mailer serve`` (waitress, in a subprocess): a one-click unsubscribe over HTTPS
through it is recorded. ``X-Forwarded-For`` is believed from the proxies of ``[serve]
trusted_proxies`` only: readers and forgers are told apart by their loopback addresses
(127.0.0.2, 127.0.0.3, ... are this machine too), and the refusal log names the client.

Docker does not run on this machine (no engine), so the Dockerfile and compose.yaml are read
and checked here, and the commands they run (the server, its health check) are run for real;
the systemd unit goes through ``systemd-analyze verify``.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sending import make_project
from test_serve import running
from werkzeug.test import Client

from mailer.errors import ConfigError
from mailer.settings import load_settings
from mailer.web.proxies import TrustedProxies

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CADDY = shutil.which("caddy")
SITE = "news.example.org"  # the domain of [list] unsubscribe_url, as Caddy serves it
UNSUBSCRIBE = "/newsletter/unsubscribe"  # its path in the test projects
PROXY, READER, FORGER = "127.0.0.1", "127.0.0.3", "127.0.0.2"  # loopback addresses all
FORGED = "198.51.100.7"  # what a forger claims to be

needs_caddy = pytest.mark.skipif(
    CADDY is None, reason="Debian's caddy is not installed (apt-get install caddy; .ci/run does)"
)


@pytest.fixture
def news(tmp_path: Path) -> Path:
    """A newsletter project with an issue; its folder."""
    make_project(tmp_path / "news")
    return tmp_path / "news"


def trust(project: Path, proxies: list[str]) -> None:
    """Set ``[serve] trusted_proxies`` in the project's mailer.toml."""
    settings = project / "mailer.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(f"{text}\n[serve]\ntrusted_proxies = {json.dumps(proxies)}\n",
                        encoding="utf-8")


def ask(base: str, method: str, path: str, *, source: str,
        headers: dict[str, str] | None = None) -> int:
    """One request straight to ``mailer serve`` at ``base``, from the loopback address
    ``source``, without a body; the answer's status."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10,
                                            source_address=(source, 0))
    try:
        connection.request(method, path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


def refusals(log: str) -> list[tuple[str, str, str]]:
    """The refusal lines of a server's log: (client, "METHOD path", status)."""
    return re.findall(r"\[client (\S+)\] refused (\S+ \S+): (\d{3})", log)


# -- whom mailer serve believes ------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_when_no_proxy_is_trusted(news: Path) -> None:
    """The default: nobody is a proxy, so a forged header (even from 127.0.0.1, where a proxy
    would be) changes nothing, in the app's refusals and in waitress's own (413)."""
    forged = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}
    with running(news) as server:
        first = ask(server.base, "GET", f"{UNSUBSCRIBE}?token=forged", source=PROXY,
                    headers=forged)
        second = ask(server.base, "POST", "/webhooks/sendgrid", source=PROXY,
                     headers={**forged, "Content-Length": "900000000"})
    assert (first, second) == (400, 413)
    assert refusals(server.stderr()) == [
        (PROXY, f"GET {UNSUBSCRIBE}", "400"), (PROXY, "POST /webhooks/sendgrid", "413"),
    ]
    assert FORGED not in server.stderr()


def test_only_a_listed_proxy_is_believed(news: Path) -> None:
    """The proxy's forwarded client (the last address: the one it added) is the client; the
    same header from any other peer is ignored, and the peer is the client."""
    trust(news, [PROXY])
    forwarded = {"X-Forwarded-For": f"203.0.113.9, {FORGED}"}
    with running(news) as server:
        for source in (PROXY, FORGER):
            ask(server.base, "GET", f"{UNSUBSCRIBE}?token=forged", source=source,
                headers=forwarded)
            ask(server.base, "POST", "/webhooks/sendgrid", source=source,
                headers={**forwarded, "Content-Length": "900000000"})
    assert refusals(server.stderr()) == [
        (FORGED, f"GET {UNSUBSCRIBE}", "400"), (FORGED, "POST /webhooks/sendgrid", "413"),
        (FORGER, f"GET {UNSUBSCRIBE}", "400"), (FORGER, "POST /webhooks/sendgrid", "413"),
    ]


def test_the_app_sees_the_forwarded_address_and_scheme_from_a_trusted_network_only() -> None:
    """What the WSGI app is given: ``REMOTE_ADDR`` and ``wsgi.url_scheme`` as the proxy
    forwarded them, or as the request came, the headers then dropped. A network may be listed
    (compose's), and a dual-stack socket's IPv4-mapped peer is that IPv4 address."""

    def seen(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps([environ["REMOTE_ADDR"], environ["wsgi.url_scheme"],
                            environ.get("HTTP_X_FORWARDED_FOR")]).encode()]

    app = TrustedProxies(["172.30.119.0/24", "::1"]).wrap(seen)
    headers = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}

    def through(peer: str) -> list[str | None]:
        answer = Client(app).get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
        return json.loads(answer.get_data())

    assert through("172.30.119.10")[:2] == [FORGED, "https"]
    assert through("::ffff:172.30.119.10")[:2] == [FORGED, "https"]
    assert through("::1")[:2] == [FORGED, "https"]
    assert through("172.30.120.10") == ["172.30.120.10", "http", None]
    assert through("127.0.0.1") == ["127.0.0.1", "http", None]


def test_a_trusted_proxy_must_be_an_address_or_a_network(news: Path) -> None:
    trust(news, ["127.0.0.1", "caddy"])
    with pytest.raises(ConfigError) as caught:
        load_settings(news / "mailer.toml")
    message = str(caught.value)
    assert "serve.trusted_proxies" in message and "'caddy'" in message
    assert "not an IP address or network" in message
