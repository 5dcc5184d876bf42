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

import configparser
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path
from urllib.parse import urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import yaml
from sending import free_port, make_project
from test_serve import ENVIRONMENT, links, running, store_of
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
    """The refusal lines of a server's log: (client, "METHOD path", status), sorted: waitress
    logs its own refusals (413) from another thread, so not always in the requests' order."""
    return sorted(re.findall(r"\[client (\S+)\] refused (\S+ \S+): (\d{3})", log))


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
    assert refusals(server.stderr()) == sorted([
        (PROXY, f"GET {UNSUBSCRIBE}", "400"), (PROXY, "POST /webhooks/sendgrid", "413"),
    ])
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
    assert refusals(server.stderr()) == sorted([
        (FORGED, f"GET {UNSUBSCRIBE}", "400"), (FORGED, "POST /webhooks/sendgrid", "413"),
        (FORGER, f"GET {UNSUBSCRIBE}", "400"), (FORGER, "POST /webhooks/sendgrid", "413"),
    ])


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
    assert refusals(server.stderr()) == sorted([
        (READER, f"GET {UNSUBSCRIBE}", "400"), (FORGER, f"GET {UNSUBSCRIBE}", "400"),
    ])


# -- the files of deploy/, checked where they cannot run -----------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """deploy/Dockerfile's instructions, (INSTRUCTION, its arguments), lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def instruction(name: str) -> list[str]:
    """The arguments of each ``name`` instruction of the Dockerfile."""
    return [arguments for found, arguments in dockerfile() if found == name]


def dockerfile_user() -> tuple[str, int]:
    """The Dockerfile's (last) USER, and the uid its useradd gives that user."""
    (user,) = instruction("USER")
    uid = re.search(rf"useradd [^&]*--uid (\d+)[^&]* {user}\b", " ".join(instruction("RUN")))
    assert uid, f"the Dockerfile does not make the user {user}"
    return user, int(uid[1])


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_image_runs_mailer_serve_as_its_own_user_with_the_data_as_a_volume() -> None:
    assert [base.split()[0] for base in instruction("FROM")] == ["python:3.11-slim"] * 2
    user, uid = dockerfile_user()
    assert user not in ("root", "0") and uid >= 1000
    assert instruction("VOLUME") == ["/data"] and instruction("WORKDIR")[-1] == "/data"
    assert any(f"chown {user}:{user} /data" in run for run in instruction("RUN"))
    assert json.loads(instruction("CMD")[0]) == [
        "mailer", "serve", "--host", "0.0.0.0", "--port", "8080"
    ]
    (health,) = instruction("HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in health
    secrets = set(ENVIRONMENT)  # every secret mailer serve reads: only ever from outside
    baked = " ".join(instruction("ENV") + instruction("ARG"))
    assert [name for name in secrets if name in baked] == []


def test_the_image_health_check_passes_on_a_serving_mailer_and_fails_without_one(
    news: Path,
) -> None:
    """The image's command (on loopback and a free port here) serves, and its HEALTHCHECK
    command, run as Docker would, says healthy; once the server stops, unhealthy."""
    command = json.loads(instruction("CMD")[0])
    assert command[:2] == ["mailer", "serve"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert set(options) == {"--host", "--port"}
    options["--host"] = "127.0.0.1"  # not every interface of this machine
    del options["--port"]  # a free one, which running() gives
    check = json.loads(instruction("HEALTHCHECK")[0].split("CMD", 1)[1])
    assert check[0] == "python"

    def health(port: int) -> int:
        probe = [sys.executable, *check[1:]]
        probe = [part.replace(":8080/", f":{port}/") for part in probe]
        return subprocess.run(probe, capture_output=True, timeout=30).returncode

    with running(news, arguments=tuple(part for pair in options.items() for part in pair)
                 ) as server:
        port = urlsplit(server.base).port or 0
        assert health(port) == 0
    assert health(port) != 0


def _ignored(path: str) -> bool:
    """Whether git leaves ``path`` (relative to the repository) out."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="not a git checkout")
def test_the_secrets_and_the_data_are_never_committed() -> None:
    assert _ignored("deploy/mailer.env") and _ignored("deploy/.env")
    assert _ignored("deploy/data/mailer.toml")
    assert not _ignored("deploy/mailer.env.example")


def test_compose_runs_the_image_behind_caddy_with_the_data_volume_and_secrets_from_a_file(
) -> None:
    services = compose()["services"]
    mailer, caddy = services["mailer"], services["caddy"]
    build = mailer["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert [volume.split(":")[-1] for volume in mailer["volumes"]] == ["/data"]
    _, uid = dockerfile_user()
    assert mailer["user"] == f"{uid}:{uid}"
    assert "ports" not in mailer  # only Caddy reaches it
    # secrets come from the env_file, which git leaves out, and nowhere else
    assert mailer["env_file"] == "mailer.env"
    example = (DEPLOY / "mailer.env.example").read_text(encoding="utf-8")
    assert set(re.findall(r"^([A-Z_]+)=", example, re.M)) == set(ENVIRONMENT)
    assert "environment" not in mailer
    assert not set(ENVIRONMENT) & set(caddy.get("environment", {}))

    assert caddy["image"] == "caddy:2"
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert any(volume.endswith(":/data") for volume in caddy["volumes"])  # its certificates
    assert caddy["depends_on"]["mailer"]["condition"] == "service_healthy"
    assert instruction("HEALTHCHECK")  # what service_healthy waits for
    port = json.loads(instruction("CMD")[0])[-1]
    assert caddy["environment"]["MAILER_UPSTREAM"] == f"mailer:{port}"
    assert "MAILER_DOMAIN" in caddy["environment"]

    # Caddy's fixed address is in the network, and it is what the docs tell to trust
    address = caddy["networks"]["proxy"]["ipv4_address"]
    (subnet,) = [entry["subnet"] for entry in compose()["networks"]["proxy"]["ipam"]["config"]]
    assert ip_address(address) in ip_network(subnet)
    assert mailer["networks"] == ["proxy"]
    docs = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    assert f'trusted_proxies = ["{address}"]' in docs


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "mailer-serve.service", encoding="utf-8")
    return parser


def test_the_systemd_unit_runs_as_its_own_user_with_its_secrets_and_hardening() -> None:
    service = unit()["Service"]
    assert service["User"] not in ("root", "0") and service["Group"] == service["User"]
    data = service["WorkingDirectory"]
    assert service["ReadWritePaths"] == data  # the data folder, and nothing else
    assert service["EnvironmentFile"].startswith("/etc/")  # not in the data folder
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes" and service["Restart"] == "on-failure"
    command = shlex.split(service["ExecStart"])
    assert command[1:] == ["serve", "--host", "127.0.0.1", "--port", "8080"]
    assert Path(command[0]).name == "mailer"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian's systemd package)")
def test_systemd_finds_nothing_wrong_in_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify``, which checks every key and value and that the command
    exists: so the command is the mailer installed here, as it is /opt/mailer's there."""
    installed = Path(sys.executable).parent / "mailer"
    assert installed.is_file()
    text = (DEPLOY / "mailer-serve.service").read_text(encoding="utf-8")
    text, replaced = re.subn(r"^ExecStart=\S+", f"ExecStart={installed}", text, flags=re.M)
    assert replaced == 1
    copy = tmp_path / "mailer-serve.service"
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
