"""``mailer doctor`` against real parts: an SMTP server with AUTH on loopback (aiosmtpd), a name
server on loopback (dnslib) holding the project's zone, named with ``MAILER_NAMESERVER``, the
real ``mailer serve`` answering the unsubscribe link, and pytest-httpserver answering as each
ESP documents its read-only key check."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from providers import PROVIDERS, as_json
from pytest_httpserver import HTTPServer
from sending import Recorder, make_project, smtp_server, write_subscribers
from test_serve import SECRET, serving, store_of
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.dkim import public_key_record

PASSWORD = "smtp-pass-0123456789"
SERVE_ENVIRONMENT = ("MAILER_UNSUBSCRIBE_SECRET", "MAILER_SMTP_PASSWORD", "MAILER_NAMESERVER",
                     "MAILER_SYNC_TOKEN", *(p.secret_variable for p in PROVIDERS.values()))


# -- a name server on loopback -------------------------------------------------------------------


class Zone(BaseResolver):
    """Answers from ``records`` (name -> [(type, value)]): NXDOMAIN for a name it lacks, no
    answer for a type the name lacks. Keeps every question asked."""

    def __init__(self, records: dict[str, list[tuple[str, str]]]) -> None:
        self.records = {name.lower(): entries for name, entries in records.items()}
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        self.asked.append((name, kind))
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for entry_kind, value in self.records[name]:
            if entry_kind == kind:
                reply.add_answer(RR(name, getattr(QTYPE, kind), rdata=_rdata(kind, value),
                                    ttl=60))
        return reply


def _rdata(kind: str, value: str) -> object:
    if kind == "TXT":  # one string holds at most 255 bytes: longer records are several
        return TXT([value[i:i + 255] for i in range(0, len(value), 255)])
    if kind == "MX":
        return MX(value, 10)
    return {"A": A, "AAAA": AAAA}[kind](value)


@contextmanager
def name_server(zone: Zone) -> Iterator[str]:
    """``zone`` served over UDP on loopback; yields ``HOST:PORT`` for MAILER_NAMESERVER."""
    quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False)
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()


def make_key(path: Path) -> str:
    """A new DKIM private key in ``path``; the p= of its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ))
    return public_key_record(path.read_bytes())[1]


def good_zone(published_key: str, spf: str = "v=spf1 ip4:127.0.0.1 -all") -> dict:
    """iom.int, the From domain of the test project, set up right for a server on 127.0.0.1."""
    return {
        "iom.int": [("TXT", spf), ("TXT", "google-site-verification=abc"),
                    ("MX", "mx.iom.int")],
        "mx.iom.int": [("A", "127.0.0.1")],
        "news._domainkey.iom.int": [("TXT", f"v=DKIM1; k=rsa; p={published_key}")],
        "_dmarc.iom.int": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:dmarc@iom.int")],
    }


# -- a project, a mail server and mailer serve, for the module -----------------------------------


@dataclass
class Live:
    project: Path
    settings: Path
    original: str  # mailer.toml as made
    serve: str  # the base URL of mailer serve
    smtp_port: int
    recorder: Recorder
    key: str  # the p= of the project's DKIM key (dkim.pem)

    def configure(
        self, *, transport: str | None = None, unsubscribe: str | None = None,
        dkim: bool = True, extra: str = "",
    ) -> None:
        """mailer.toml as made, sending through ``transport`` (the SMTP server by default)
        with the DKIM key, and the unsubscribe link at ``unsubscribe`` (mailer serve's)."""
        transport = transport or f"smtp://alice@127.0.0.1:{self.smtp_port}"
        unsubscribe = unsubscribe or f"{self.serve}/newsletter/unsubscribe"
        text = re.sub(r'(?m)^transport = .*$', f'transport = "{transport}"', self.original)
        text = re.sub(r'(?m)^unsubscribe_url = .*$',
                      f'unsubscribe_url = "{unsubscribe}?token={{token}}&issue={{issue}}"', text)
        if dkim:
            text = text.replace(
                "[send]\n", '[send]\ndkim_selector = "news"\ndkim_key_file = "dkim.pem"\n'
            )
        text += '\n[bounces]\naddress = "bounces@iom.int"\n' + extra
        self.settings.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("doctor") / "news"
    make_project(root)
    key = make_key(root / "dkim.pem")
    recorder = Recorder()
    server = smtp_server(recorder, users={"alice": PASSWORD})
    settings = root / "mailer.toml"
    try:
        with serving(root) as base:
            yield Live(root, settings, settings.read_text(encoding="utf-8"), base, server.port,
                       recorder, key)
    finally:
        server.stop()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The secrets a real send needs, set; nothing else a developer's shell may hold."""
    for name in SERVE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", PASSWORD)
    return monkeypatch


@dataclass
class Report:
    code: int
    stdout: str
    stderr: str

    def lines(self, severity: str, concern: str) -> list[str]:
        """The finding lines of ``severity`` about ``concern``."""
        return [line for line in self.stdout.splitlines()
                if line.split()[:2] == [severity, concern]]

    def findings(self) -> list[str]:
        return [line for line in self.stdout.splitlines()
                if line.split()[:1] in (["error"], ["warning"], ["note"], ["ok"])]


def doctor(settings: Path, *args: str) -> Report:
    result = CliRunner().invoke(app, ["doctor", "--settings", str(settings), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return Report(result.exit_code, result.stdout, result.stderr)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the acceptance ----------------------------------------------------------------------------


def test_a_project_ready_to_go_live_passes(live: Live, environment) -> None:
    live.configure()
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 0, report.stdout
    assert report.lines("error", "dns") == [] and report.lines("error", "secrets") == []
    ok = "\n".join(report.lines("ok", "dns"))
    assert "SPF of iom.int lets 127.0.0.1 send" in ok
    assert "DKIM: the key at news._domainkey.iom.int is the public key of dkim.pem" in ok
    assert "DMARC: _dmarc.iom.int has a policy (v=DMARC1; p=quarantine" in ok
    assert "MX: bounces to iom.int arrive at mx.iom.int" in ok
    (login,) = report.lines("ok", "transport")
    assert "the login was accepted; nothing was sent" in login
    (page,) = report.lines("ok", "unsubscribe")
    assert "answers a freshly signed link with 200 and a button" in page
    assert "token" not in page  # the link's query is not shown
    assert live.recorder.messages == []  # logged in, sent nothing
    with store_of(live.project) as store:
        assert len(store) == 0  # opening the link unsubscribed nobody
    assert report.stdout.splitlines()[-1].endswith("nothing blocks a real send.")


def test_a_published_key_that_differs_from_the_key_file_blocks(
    live: Live, environment, tmp_path: Path
) -> None:
    live.configure()
    other = make_key(tmp_path / "other.pem")
    with name_server(Zone(good_zone(other))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 1
    errors = [line for line in report.findings() if line.startswith("error")]
    assert len(errors) == 1, report.stdout
    assert errors[0].startswith("error    dns          DKIM: the key published at "
                                "news._domainkey.iom.int is not the public key of dkim.pem")
    assert f"p={live.key}" in errors[0]  # the fix says what to publish
    assert "1 problem blocks a real send" in report.stderr


def test_missing_secrets_are_named_together_in_one_finding(live: Live, environment) -> None:
    live.configure()
    environment.delenv("MAILER_UNSUBSCRIBE_SECRET")
    environment.delenv("MAILER_SMTP_PASSWORD")
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 1
    (secrets,) = report.lines("error", "secrets")
    assert "MAILER_SMTP_PASSWORD (the SMTP login as alice): not set" in secrets
    assert "MAILER_UNSUBSCRIBE_SECRET (signing the readers' unsubscribe links): not set" in secrets
    assert "$env:MAILER_SMTP_PASSWORD = '...'" in secrets  # PowerShell
    assert "export MAILER_SMTP_PASSWORD='...' MAILER_UNSUBSCRIBE_SECRET='...'" in secrets
    # The first line a person reads after the heading is the one to fix first.
    assert report.findings()[0] == secrets
    assert [line.split()[0] for line in report.findings()].count("error") == 1
    # Each finding is one line; every problem says how to fix it.
    for line in report.findings():
        if line.startswith(("error", "warning")):
            assert " Fix: " in line, line


def test_secrets_are_never_shown(live: Live, environment, httpserver: HTTPServer) -> None:
    live.configure()
    environment.setenv("MAILER_SMTP_PASSWORD", "wrong-password-4567")
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
        as_json_report = doctor(live.settings, "--json")
    assert report.code == 1
    (login,) = report.lines("error", "transport")
    assert "refused the login for alice: 535" in login
    for text in (report.stdout, report.stderr, as_json_report.stdout):
        assert "wrong-password-4567" not in text and SECRET not in text


def test_offline_uses_no_network(live: Live, environment, httpserver: HTTPServer) -> None:
    """The SMTP server, the name server and the unsubscribe page are all there, and none of
    them hears a thing."""
    with socket.socket() as smtp:
        smtp.bind(("127.0.0.1", 0))
        smtp.listen()
        live.configure(transport=f"smtp://alice@127.0.0.1:{smtp.getsockname()[1]}",
                       unsubscribe=httpserver.url_for("/unsubscribe"))
        zone = Zone(good_zone(live.key))
        with name_server(zone) as nameserver:
            environment.setenv("MAILER_NAMESERVER", nameserver)
            report = doctor(live.settings, "--offline")
        smtp.setblocking(False)
        with pytest.raises(BlockingIOError):
            smtp.accept()  # nobody connected
    assert zone.asked == [] and httpserver.log == []
    assert report.code == 0, report.stdout
    assert report.lines("ok", "secrets")
    assert "login not tried (--offline)" in report.lines("note", "transport")[0]
    dkim, records = report.lines("note", "dns")
    assert dkim.startswith("note     dns          DKIM: dkim.pem holds an RSA key; its record "
                           "at news._domainkey.iom.int was not looked up (--offline). Fix: ")
    assert f'"v=DKIM1; k=rsa; p={live.key}"' in dkim
    assert records == ("note     dns          SPF, DKIM, DMARC and MX records: not looked up "
                       "(--offline).")


def test_offline_finds_a_dkim_key_file_that_cannot_be_read(live: Live, environment) -> None:
    live.configure()
    live.settings.write_text(
        live.settings.read_text(encoding="utf-8").replace('"dkim.pem"', '"missing.pem"'),
        encoding="utf-8",
    )
    report = doctor(live.settings, "--offline")
    assert report.code == 1
    (dkim,) = report.lines("error", "dns")
    assert "DKIM: cannot read [send] dkim_key_file" in dkim and "missing.pem" in dkim


def test_json_holds_the_same_findings(live: Live, environment) -> None:
    live.configure()
    environment.delenv("MAILER_SMTP_PASSWORD")
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        lines = doctor(live.settings)
        report = doctor(live.settings, "--json")
    document = json.loads(report.stdout)
    assert report.code == lines.code == 1
    assert document["ok"] is False and document["settings"] == str(live.settings)
    assert document["counts"]["error"] == 1
    first = document["findings"][0]
    assert (first["concern"], first["severity"]) == ("secrets", "error")
    assert "MAILER_SMTP_PASSWORD" in first["message"] and first["fix"]
    assert len(document["findings"]) == len(lines.findings())


def test_settings_that_cannot_be_loaded_exit_2(tmp_path: Path) -> None:
    settings = tmp_path / "mailer.toml"
    settings.write_text('[sender]\nname = "IOM"\naddress = "not an address"\n', encoding="utf-8")
    report = doctor(settings)
    assert report.code == 2
    assert report.stderr.startswith(f"Error: {settings}:")
    as_json_report = doctor(settings, "--json")
    assert as_json_report.code == 2
    document = json.loads(as_json_report.stdout)
    assert document["ok"] is False
    assert document["findings"][0]["concern"] == "settings"


def test_a_nameserver_that_cannot_be_read_is_a_settings_error(live: Live, environment) -> None:
    live.configure()
    environment.setenv("MAILER_NAMESERVER", "127.0.0.1:dns")
    report = doctor(live.settings)
    assert report.code == 2
    assert "environment variable MAILER_NAMESERVER: '127.0.0.1:dns': the port" in report.stderr


def test_a_name_server_that_does_not_answer_is_one_finding(live: Live, environment) -> None:
    live.configure()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes, never answers
        silent.bind(("127.0.0.1", 0))
        environment.setenv("MAILER_NAMESERVER", f"127.0.0.1:{silent.getsockname()[1]}")
        report = doctor(live.settings)
    assert report.code == 1
    (dns,) = [line for line in report.findings() if line.split()[1] == "dns"]
    assert dns.startswith("error    dns          DNS: the name server did not answer for iom.int")
    assert "MAILER_NAMESERVER=HOST[:PORT]" in dns
    assert report.lines("ok", "transport") and report.lines("ok", "unsubscribe")


# -- SPF as receivers evaluate it ------------------------------------------------------------


@pytest.mark.parametrize(("records", "expected"), [
    pytest.param(
        {"iom.int": [("TXT", "v=spf1 include:_spf.iom.int -all")],
         "_spf.iom.int": [("TXT", "v=spf1 mx a:relay.iom.int ~all")],
         "relay.iom.int": [("A", "192.0.2.7"), ("A", "127.0.0.1")]},
        "ok       dns          SPF of iom.int lets 127.0.0.1", id="include-then-a",
    ),
    pytest.param(
        {"iom.int": [("TXT", "v=spf1 mx/24 -all"), ("MX", "mx.iom.int")],
         "mx.iom.int": [("A", "127.0.0.9")]},
        "ok       dns          SPF of iom.int lets 127.0.0.1", id="mx-with-a-prefix",
    ),
    pytest.param(
        {"iom.int": [("TXT", "v=spf1 ip4:192.0.2.0/24 ~all")]},
        "error    dns          SPF of iom.int does not let 127.0.0.1 send (127.0.0.1: softfail)",
        id="softfail",
    ),
    pytest.param(
        {"iom.int": [("TXT", "v=spf1 include:s0.iom.int -all")],
         **{f"s{n}.iom.int": [("TXT", f"v=spf1 include:s{n + 1}.iom.int -all")]
            for n in range(11)}},
        "error    dns          SPF of iom.int cannot be evaluated: the record needs more than "
        "10 DNS lookups", id="eleven-lookups",
    ),
    pytest.param(
        {"iom.int": [("TXT", "v=spf1 ip4:127.0.0.1 -all"), ("TXT", "v=spf1 -all")]},
        "error    dns          SPF of iom.int cannot be evaluated: iom.int has 2 SPF records",
        id="two-records",
    ),
    pytest.param(
        {"iom.int": [("MX", "mx.iom.int")]},
        'error    dns          SPF: iom.int has no SPF record, so receivers cannot tell your '
        'mail from forgeries. Fix: publish a TXT record at iom.int: "v=spf1 ip4:127.0.0.1 ~all"',
        id="none",
    ),
])
def test_spf_is_evaluated_as_receivers_do(
    live: Live, environment, records: dict, expected: str
) -> None:
    live.configure()
    zone = {**good_zone(live.key), **records}
    zone["iom.int"] = [*records["iom.int"], ("MX", "mx.iom.int")]
    with name_server(Zone(zone)) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    (spf,) = [line for line in report.findings() if " SPF" in line]
    assert spf.startswith(expected), report.stdout
    assert report.code == (0 if expected.startswith("ok") else 1)


def test_a_bounce_domain_outside_the_from_domain_is_a_warning(live: Live, environment) -> None:
    live.configure(extra="")
    live.settings.write_text(
        live.settings.read_text(encoding="utf-8").replace("bounces@iom.int",
                                                          "bounces@example.net"),
        encoding="utf-8",
    )
    zone = {**good_zone(live.key), "example.net": [("TXT", "v=spf1 ip4:127.0.0.1 -all"),
                                                   ("MX", "mx.iom.int")]}
    with name_server(Zone(zone)) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 0, report.stdout
    (warning,) = report.lines("warning", "dns")
    assert "the bounce domain example.net is not in iom.int" in warning
    assert "Fix: use a bounce mailbox at iom.int" in warning


# -- the unsubscribe page ------------------------------------------------------------------------


def test_a_server_with_another_secret_is_found(live: Live, environment) -> None:
    live.configure()
    environment.setenv("MAILER_UNSUBSCRIBE_SECRET", "another-secret-0123456789abcdef")
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 1
    (page,) = report.lines("error", "unsubscribe")
    assert "refused a link signed with this computer's MAILER_UNSUBSCRIBE_SECRET (HTTP 400)" in page


def test_a_page_that_unsubscribes_on_opening_is_found(
    live: Live, environment, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/unsubscribe", method="GET").respond_with_data(
        "<html><body><p>You are unsubscribed.</p></body></html>", content_type="text/html"
    )
    live.configure(unsubscribe=httpserver.url_for("/unsubscribe"))
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert report.code == 1
    (page,) = report.lines("error", "unsubscribe")
    assert "has no button that posts" in page and "Fix: " in page
    (request, _), = httpserver.log
    assert request.args["issue"] == "doctor-test" and request.args["token"]


# -- an ESP's key, checked with its documented read-only call ----------------------------------


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("accepted", [True, False], ids=["200", "401"])
def test_an_esp_key_is_checked_read_only(
    name: str, accepted: bool, live: Live, environment, httpserver: HTTPServer
) -> None:
    provider = PROVIDERS[name]
    key = f"esp-key-{name}-0123456789"
    environment.setenv(provider.secret_variable, key)
    status, body = (200, provider.check_answer) if accepted else provider.key_refused
    if isinstance(body, str):
        httpserver.expect_request(provider.check_path, method="GET").respond_with_data(
            body, status
        )
    else:
        httpserver.expect_request(provider.check_path, method="GET").respond_with_response(
            as_json(body, status)
        )
    separator = "&" if "?" in provider.scheme else "?"
    endpoint = httpserver.url_for("/").rstrip("/")
    live.configure(transport=f"{provider.scheme}{separator}endpoint={endpoint}", dkim=False)
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    (request, _), = httpserver.log
    assert request.method == "GET"
    if accepted:
        (line,) = report.lines("ok", "transport")
        assert "the login was accepted; nothing was sent" in line
    else:
        (line,) = report.lines("error", "transport")
        assert f"(HTTP 401): GET {provider.check_path} was refused" in line
        assert f"check {provider.secret_variable}" in line
        assert report.code == 1
    assert key not in report.stdout + report.stderr


def test_a_sendgrid_key_that_may_not_send_is_found(
    live: Live, environment, httpserver: HTTPServer
) -> None:
    environment.setenv("SENDGRID_API_KEY", "SG.read-only-0123456789")
    httpserver.expect_request("/v3/scopes").respond_with_json({"scopes": ["stats.read"]})
    live.configure(transport=f"sendgrid://?endpoint={httpserver.url_for('/').rstrip('/')}",
                   dkim=False)
    report = doctor(live.settings, "--offline")
    assert httpserver.log == []  # offline: the key is not even tried
    with name_server(Zone(good_zone(live.key))) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    (line,) = report.lines("error", "transport")
    assert "this API key may not send mail (it lacks the mail.send scope)" in line


@pytest.mark.parametrize(("name", "spf_at", "record", "expected"), [
    ("mailgun", "mg.example.org", "v=spf1 include:mailgun.org ~all",
     "ok       dns          SPF of mg.example.org includes mailgun.org."),
    ("sendgrid", "iom.int", "v=spf1 ip4:127.0.0.1 -all",
     'warning  dns          SPF of iom.int does not include sendgrid.net, which SendGrid '
     'documents. Fix: add "include:sendgrid.net" to the SPF record of iom.int'),
])
def test_an_esp_spf_include_is_what_counts(
    name: str, spf_at: str, record: str, expected: str, live: Live, environment,
    httpserver: HTTPServer,
) -> None:
    provider = PROVIDERS[name]
    environment.setenv(provider.secret_variable, "key-0123456789")
    httpserver.expect_request(provider.check_path).respond_with_json(provider.check_answer)
    separator = "&" if "?" in provider.scheme else "?"
    endpoint = httpserver.url_for("/").rstrip("/")
    live.configure(transport=f"{provider.scheme}{separator}endpoint={endpoint}", dkim=False)
    zone = good_zone(live.key)
    zone[spf_at] = [("TXT", record), ("MX", "mx.iom.int")]
    with name_server(Zone(zone)) as nameserver:
        environment.setenv("MAILER_NAMESERVER", nameserver)
        report = doctor(live.settings)
    assert expected in report.stdout, report.stdout


# -- mailer send does the blocking part first ----------------------------------------------------


def test_send_names_every_missing_secret_before_it_connects(
    live: Live, environment, tmp_path: Path
) -> None:
    environment.delenv("MAILER_UNSUBSCRIBE_SECRET")
    environment.delenv("MAILER_SMTP_PASSWORD")
    with socket.socket() as smtp:
        smtp.bind(("127.0.0.1", 0))
        smtp.listen()
        live.configure(transport=f"smtp://alice@127.0.0.1:{smtp.getsockname()[1]}")
        issue = live.project / "issues" / "send-test.yaml"
        result = CliRunner().invoke(app, ["send", str(issue), "--yes"])
        smtp.setblocking(False)
        with pytest.raises(BlockingIOError):
            smtp.accept()  # nobody connected
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        "Error: the SMTP login as alice needs the environment variable MAILER_SMTP_PASSWORD and "
        "signing the readers' unsubscribe links needs MAILER_UNSUBSCRIBE_SECRET (neither is set)"
    )


def test_a_large_list_answering_unsubscribes_by_mail_only_is_warned(
    tmp_path: Path, environment
) -> None:
    """Gmail's and Yahoo's bulk-sender line: 5,000 readers with no one-click unsubscribe."""
    root = tmp_path / "news"
    make_project(root)
    settings = root / "mailer.toml"
    text = settings.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^unsubscribe_url = .*$", 'unsubscribe = "mailto"', text)
    text = re.sub(r"(?m)^unsubscribe_mailto = .*$", 'unsubscribe_mailto = "unsubscribe@iom.int"',
                  text)
    settings.write_text(text, encoding="utf-8")
    subscribers = root / "subscribers.example.csv"
    write_subscribers(subscribers, 5_000)
    small = doctor(settings, "--offline")
    assert small.lines("warning", "unsubscribe") == [], small.stdout
    write_subscribers(subscribers, 5_001)
    large = doctor(settings, "--offline")
    (warning,) = large.lines("warning", "unsubscribe")
    assert "more than 5,000 readers" in warning and 'unsubscribe = "esp"' in warning
