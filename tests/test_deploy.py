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
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from sending import free_port, make_project
from test_serve import links, running, store_of
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

    def seen(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
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


# -- Caddy in front, for real --------------------------------------------------------------------


class _ToCaddy(http.client.HTTPSConnection):
    """HTTPS to ``SITE`` as a mail client would speak it (SNI, Host), but to Caddy on
    127.0.0.1 (there is no DNS here), from the loopback address ``source``."""

    def __init__(self, port: int, tls: ssl.SSLContext, source: str) -> None:
        super().__init__(SITE, port, timeout=10, context=tls)
        self.tls, self.source = tls, source

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout,
                                        (self.source, 0))
        self.sock = self.tls.wrap_socket(sock, server_hostname=SITE)


@dataclass
class Caddy:
    """A running Caddy: its HTTPS port, and the root certificate of its internal CA."""

    port: int
    root: Path

    def request(self, method: str, path: str, *, source: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> int:
        """One request over HTTPS through Caddy, from ``source``; the answer's status."""
        connection = _ToCaddy(self.port, ssl.create_default_context(cafile=self.root), source)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            return connection.getresponse().status
        finally:
            connection.close()


@contextmanager
def caddy_in_front(upstream: str, folder: Path) -> Iterator[Caddy]:
    """Debian's caddy serving deploy/Caddyfile for ``SITE`` on a free port of 127.0.0.1,
    forwarding to ``upstream`` (host:port), with its certificate from its internal CA: its
    storage, configuration and home in ``folder``, its admin API off."""
    folder.mkdir()
    port = free_port()
    storage = folder / "storage"
    caddyfile = folder / "Caddyfile"
    caddyfile.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n"
        f"\thttp_port {free_port()}\n\thttps_port {port}\n\tdefault_bind 127.0.0.1\n"
        f'\tauto_https disable_redirects\n\tstorage file_system {{\n\t\troot "{storage}"\n\t}}\n'
        f'}}\n\nimport "{DEPLOY / "Caddyfile"}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"),
           "XDG_CONFIG_HOME": str(folder / "config"), "MAILER_DOMAIN": SITE,
           "MAILER_UPSTREAM": upstream}
    log = folder / "caddy.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(CADDY), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    caddy = Caddy(port, storage / "pki" / "authorities" / "local" / "root.crt")
    try:
        deadline = time.monotonic() + 30
        while True:  # until its CA is made and it answers over HTTPS
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                if caddy.root.is_file() and caddy.request("GET", "/healthz",
                                                          source=PROXY) == 200:
                    break
            except (OSError, ssl.SSLError):
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        yield caddy
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@needs_caddy
def test_one_click_over_https_through_caddy_is_recorded_with_the_readers_address(
    news: Path, tmp_path: Path
) -> None:
    """The reader (127.0.0.3) posts the one-click unsubscribe to Caddy over HTTPS: recorded.
    Their bad link, with a forged X-Forwarded-For that Caddy replaces, is logged with the
    address Caddy saw; the same forgery sent straight to mailer serve from another address
    (127.0.0.2, not the proxy) is logged with that address."""
    trust(news, [PROXY])
    token = links().token("ayse@example.org")
    forged = {"X-Forwarded-For": FORGED}
    with (running(news) as server,
          caddy_in_front(urlsplit(server.base).netloc, tmp_path / "caddy") as caddy):
        one_click = caddy.request(
            "POST", f"{UNSUBSCRIBE}?token={token}", source=READER,
            body="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        bad_link = caddy.request("GET", f"{UNSUBSCRIBE}?token=forged", source=READER,
                                 headers=forged)
        straight = ask(server.base, "GET", f"{UNSUBSCRIBE}?token=forged", source=FORGER,
                       headers=forged)
    assert (one_click, bad_link, straight) == (200, 400, 400)
    with store_of(news) as store:
        (entry,) = store.entries()
    assert (entry.email, entry.reason, entry.source) == (
        "ayse@example.org", "unsubscribed", "one-click"
    )
    assert refusals(server.stderr()) == [
        (READER, f"GET {UNSUBSCRIBE}", "400"), (FORGER, f"GET {UNSUBSCRIBE}", "400"),
    ]
