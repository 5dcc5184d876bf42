"""The transport contract, the same cases against every transport of the registry
(``mailer.delivery.transports.SCHEMES``: outbox, SMTP, SMTPS, SendGrid, Mailgun, Postmark and
Amazon SES), each with a real server of its kind (a Maildir, aiosmtpd with and without TLS,
pytest-httpserver speaking each provider's documented API, moto's SES server with a layer that
plays throttling and refusals). A transport added to the registry
without a harness here fails every case, by name.

What every transport promises (``mailer.delivery.transports.base``): one normalised result
per message, in order, naming the message's recipient and Message-ID; a temporary refusal is
``deferred``, a permanent one ``failed`` for that recipient alone, however the batch had to be
split to find it; and the transport's secret never comes back in what it reports, plain,
base64 or percent-encoded, even when the server quotes it; and it declares every secret a
send through it needs.
"""

from __future__ import annotations

import base64
import email
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from aws import KEY_ID, LocalSes
from providers import PROVIDERS, postmark_answer, recipients_of
from pytest_httpserver import HTTPServer
from sending import free_port, make_certificate, make_project
from werkzeug import Request, Response

from mailer.audience.subscribers import Subscriber
from mailer.compose.issue import load
from mailer.delivery.campaign import Builder
from mailer.delivery.message import MessageFactory, OutgoingMessage
from mailer.delivery.prepare import prepare
from mailer.delivery.transports import SCHEMES, Transport, parse_transport
from mailer.delivery.transports.base import DELIVERED
from mailer.delivery.transports.outbox import file_name
from mailer.errors import TransportError

SECRET = "s3cret-Pa55word+with/odd=chars"
USER = "alice"
STATUSES = {"sent", "queued", "deferred", "failed"}


class Harness:
    """One transport and the server behind it, which can be told to refuse a message."""

    name: str
    needs_mime = True
    per_recipient_deferral = True  # False: a temporary refusal answers the whole request
    can_refuse = True  # False: the transport writes every message (the outbox)
    secret: str | None = SECRET
    dsn: str
    environ: dict[str, str]  # the transport's own secret, as the environment holds it

    def open(self) -> Transport:
        return parse_transport(self.dsn, Path("."), self.environ)()

    def defer(self, message: OutgoingMessage) -> None:
        """From now on, the server refuses ``message`` for now (try later)."""

    def refuse(self, message: OutgoingMessage) -> None:
        """From now on, the server refuses ``message`` for good (no such user, say)."""

    def echo_secret(self) -> None:
        """From now on, every refusal quotes the credentials the client sent."""

    def received(self) -> list[str]:
        """The recipients the server took a message for, in the order it took them."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server."""


class OutboxHarness(Harness):
    name = "outbox"
    can_refuse = False
    secret = None

    def __init__(self, root: Path) -> None:
        self.folder = root / "outbox"
        self.dsn = f"outbox://{self.folder}"
        self.environ = {}

    def defer(self, message: OutgoingMessage) -> None:
        # A folder where the message's file should go: the write fails, as on a full disk.
        (self.folder / "new" / file_name(message.message_id)).mkdir(parents=True)

    def received(self) -> list[str]:
        files = [path for path in (self.folder / "new").glob("*.eml") if path.is_file()]
        files.sort(key=lambda path: path.stat().st_mtime_ns)
        return [email.message_from_bytes(path.read_bytes())["To"] for path in files]


class SmtpRules:
    """An aiosmtpd handler that answers by recipient, and can quote the login it was given."""

    def __init__(self) -> None:
        self.replies: dict[str, str] = {}
        self.echo = False
        self.login = ""
        self.received: list[str] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        reply = self.replies.get(address)
        if reply is None and self.echo:
            blob = base64.b64encode(f"\0{self.login}".encode()).decode()
            reply = f"451 4.7.0 credentials {self.login} ({blob}; {quote(self.login)}) not trusted"
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.received.append(envelope.rcpt_tos[0])
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


class SmtpHarness(Harness):
    def __init__(self, root: Path, *, implicit_tls: bool) -> None:
        self.name = "smtps" if implicit_tls else "smtp"
        self.rules = SmtpRules()
        cert, key = make_certificate(root)
        self.cafile = cert

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()
            ) == (USER, SECRET)
            if ok:
                self.rules.login = f"{USER}\0{SECRET}"
            return AuthResult(success=ok, handled=False)

        options: dict = {"authenticator": authenticate, "auth_require_tls": False}
        if implicit_tls:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert), str(key))
            options["ssl_context"] = context
        self.controller = Controller(
            self.rules, hostname="127.0.0.1", port=free_port(), **options
        )
        self.controller.start()
        port = self.controller.port
        if implicit_tls:
            self.dsn = f"smtps://{USER}@127.0.0.1:{port}?cafile={self.cafile}"
        else:
            self.dsn = f"smtp://{USER}@127.0.0.1:{port}"
        self.environ = {"MAILER_SMTP_PASSWORD": SECRET}

    def defer(self, message: OutgoingMessage) -> None:
        self.rules.replies[message.recipient] = "451 4.2.1 Mailbox busy, try again later"

    def refuse(self, message: OutgoingMessage) -> None:
        self.rules.replies[message.recipient] = (
            f"550 5.1.1 <{message.recipient}>: Recipient address rejected: User unknown"
        )

    def echo_secret(self) -> None:
        self.rules.echo = True

    def received(self) -> list[str]:
        return list(self.rules.received)

    def close(self) -> None:
        self.controller.stop()


class EspHarness(Harness):
    """pytest-httpserver as the provider: it answers each request by what it carries."""

    needs_mime = False

    def __init__(self, name: str, server: HTTPServer) -> None:
        self.name = name
        self.provider = PROVIDERS[name]
        self.per_recipient_deferral = name == "postmark"  # its answers are per message
        self.server = server
        self.deferred: set[str] = set()
        self.refused: set[str] = set()
        self.echo = False
        self.taken: list[str] = []
        server.expect_request(self.provider.path, method="POST").respond_with_handler(
            self._answer
        )
        separator = "&" if "?" in self.provider.scheme else "?"
        endpoint = self.server.url_for("/").rstrip("/")
        self.dsn = f"{self.provider.scheme}{separator}endpoint={endpoint}"
        self.environ = {self.provider.secret_variable: SECRET}

    def defer(self, message: OutgoingMessage) -> None:
        self.deferred.add(message.recipient)

    def refuse(self, message: OutgoingMessage) -> None:
        self.refused.add(message.recipient)

    def echo_secret(self) -> None:
        self.echo = True

    def received(self) -> list[str]:
        return list(self.taken)

    def _credentials(self, request: Request) -> str:
        return request.headers.get("Authorization") or request.headers.get(
            "X-Postmark-Server-Token", ""
        )

    def _answer(self, request: Request) -> Response:
        recipients = recipients_of(self.name, request)
        if self.echo:
            quoted = self._credentials(request)
            return Response(f"upstream refused {quoted} ({quote(quoted)})", 503)
        if self.name == "postmark":
            return self._postmark(recipients)
        if self.deferred & set(recipients):
            return Response('{"message": "slow down"}', 429, headers={"Retry-After": "1"})
        if self.refused & set(recipients):
            return self.provider.refuse(recipients, self.refused)
        self.taken += recipients
        return self.provider.success(len(recipients))

    def _postmark(self, recipients: list[str]) -> Response:
        answers = []
        for n, recipient in enumerate(recipients):
            if recipient in self.deferred:  # Postmark's per-message rate limit
                answers.append(postmark_answer(n, recipient, 429))
            elif recipient in self.refused:
                answers.append(postmark_answer(n, recipient, 406))
            else:
                self.taken.append(recipient)
                answers.append(postmark_answer(n, recipient))
        return Response(json.dumps(answers), 200, content_type="application/json")


class SesHarness(Harness):
    """moto's SES, whose layer refuses or defers a recipient when told."""

    name = "ses"

    def __init__(self, ses: LocalSes, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ses = ses
        ses.verify_sender()
        self.dsn = ses.dsn
        self.environ = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
        for name, value in self.environ.items():  # where ses:// reads them, as AWS tools do
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

    def defer(self, message: OutgoingMessage) -> None:
        self.ses.rules(deferred=[message.recipient])

    def refuse(self, message: OutgoingMessage) -> None:
        self.ses.rules(refused=[message.recipient])

    def echo_secret(self) -> None:
        self.ses.rules(echo=True)  # SigV4 never sends the secret: it quotes the key id instead

    def received(self) -> list[str]:
        return self.ses.received()


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> MessageFactory:
    return prepare(load(make_project(tmp_path_factory.mktemp("contract"))), real_send=False).factory


@pytest.fixture(params=list(SCHEMES))
def harness(request, tmp_path: Path) -> Iterator[Harness]:
    """A harness for each scheme of the registry; one without a harness fails by name."""
    scheme = request.param
    if scheme == "outbox":
        made: Harness = OutboxHarness(tmp_path)
    elif scheme in ("smtp", "smtps"):
        made = SmtpHarness(tmp_path, implicit_tls=scheme == "smtps")
    elif scheme in PROVIDERS:
        made = EspHarness(scheme, request.getfixturevalue("httpserver"))
    elif scheme == "ses":
        ses = LocalSes(request.getfixturevalue("local_ses_url"))
        made = SesHarness(ses, request.getfixturevalue("monkeypatch"))
    else:
        pytest.fail(
            f"the transport {scheme}:// is in the registry (SCHEMES) but has no contract "
            "harness: add one to tests/test_transport_contract.py"
        )
    yield made
    made.close()


def messages_for(harness: Harness, factory: MessageFactory, count: int) -> list[OutgoingMessage]:
    build = Builder(factory, needs_mime=harness.needs_mime)
    return [build(Subscriber(f"reader{n}@example.org", first_name=f"R{n}")) for n in range(count)]


def send(transport: Transport, messages: list[OutgoingMessage]) -> list:
    try:
        return transport.send(messages)
    finally:
        transport.close()


def assert_normalised(results: list, messages: list[OutgoingMessage]) -> None:
    assert [r.recipient for r in results] == [m.recipient for m in messages]
    assert [r.message_id for r in results] == [m.message_id for m in messages]
    assert {r.status for r in results} <= STATUSES
    assert all(isinstance(r.detail, str) for r in results)


def test_accepted_messages_are_one_delivered_result_each(harness, factory) -> None:
    sent = messages_for(harness, factory, 3)
    results = send(harness.open(), sent)
    assert_normalised(results, sent)
    assert all(r.status in DELIVERED for r in results)
    assert all(r.provider_id for r in results)
    assert sorted(harness.received()) == sorted(m.recipient for m in sent)


def test_a_temporary_refusal_is_deferred(harness, factory) -> None:
    sent = messages_for(harness, factory, 4)
    harness.defer(sent[2])
    results = send(harness.open(), sent)
    assert_normalised(results, sent)
    assert results[2].status == "deferred" and results[2].detail
    others = [r for n, r in enumerate(results) if n != 2]
    if harness.per_recipient_deferral:
        assert all(r.status in DELIVERED for r in others)
    else:  # the whole request was answered "later": nothing of it was taken
        assert {r.status for r in others} == {"deferred"}
    delivered = {r.recipient for r in results if r.status in DELIVERED}
    assert set(harness.received()) == delivered


def test_a_permanent_refusal_fails_that_recipient_alone_after_any_split(harness, factory) -> None:
    sent = messages_for(harness, factory, 8)
    harness.refuse(sent[5])
    results = send(harness.open(), sent)
    assert_normalised(results, sent)
    if not harness.can_refuse:
        assert all(r.status in DELIVERED for r in results)  # the outbox writes everything
        return
    assert results[5].status == "failed" and results[5].detail
    assert all(r.status in DELIVERED for n, r in enumerate(results) if n != 5)
    assert sorted(harness.received()) == sorted(m.recipient for m in sent if m is not sent[5])


def test_the_secret_never_comes_back(harness, factory) -> None:
    if harness.secret is None:
        assert harness.open().secret_variable is None  # nothing to leak: it takes no secret
        return
    sent = messages_for(harness, factory, 2)
    harness.echo_secret()
    transport = harness.open()
    try:
        results = transport.send(sent)
        texts = [r.detail for r in results]
    except TransportError as exc:
        texts = [str(exc)]
    finally:
        transport.close()
    assert texts and any("***" in text for text in texts), texts  # the echo was there
    for text in texts:
        for form in secret_forms():
            assert form not in text


def test_it_declares_every_secret_a_send_through_it_needs(harness) -> None:
    declared = [need.variable for need in parse_transport(harness.dsn, Path(".")).secrets]
    # Its own login, then the key signing the readers' unsubscribe links wherever they read it.
    signing = [] if harness.name == "outbox" else ["MAILER_UNSUBSCRIBE_SECRET"]
    assert declared == [*harness.environ, *signing]


def secret_forms() -> list[str]:
    """The secret as a server might quote it: plain, URL-encoded, inside base64 values."""
    forms = [SECRET, quote(SECRET, safe="")]
    for value in (SECRET, f"api:{SECRET}", f"\0{USER}\0{SECRET}", f"{USER}\0{SECRET}"):
        forms.append(base64.b64encode(value.encode()).decode().rstrip("="))
    return forms
