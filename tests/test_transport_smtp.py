"""The SMTP transport against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sending import (
    ChunkingServer,
    Faults,
    Recorder,
    build,
    factory_for,
    make_certificate,
    make_project,
    smtp_server,
)

from mailer.audience.store import SuppressionStore
from mailer.audience.subscribers import Subscriber
from mailer.delivery.campaign import Campaign, Policy
from mailer.delivery.ledger import Ledger
from mailer.delivery.message import MessageFactory
from mailer.delivery.transports import mask, parse_transport
from mailer.delivery.transports.smtp import dot_stuffed
from mailer.errors import TransportError, Unreachable, UsageError


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> MessageFactory:
    return factory_for(make_project(tmp_path_factory.mktemp("smtp")))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def transport(dsn: str, base: Path = Path(".")):
    return parse_transport(dsn, base)()


def test_plain_smtp_delivers_the_exact_bytes_over_one_connection(factory) -> None:
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        sender = transport(f"smtp://127.0.0.1:{server.port}")
        messages = build(factory, [f"r{n}@example.org" for n in range(5)])
        results = sender.send(messages)
        connection = sender._connection
        results += sender.send(build(factory, ["r5@example.org"]))
        assert sender._connection is connection  # reused, not reopened
        sender.close()
    finally:
        server.stop()
    assert [r.status for r in results] == ["sent"] * 6
    assert results[0].provider_id == "Q1" and results[0].detail.startswith("250")
    received = dict(recorder.messages)
    message = received["r0@example.org"]
    assert message["Message-ID"] == f"<{messages[0].message_id}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The line starting with a dot survives dot-stuffing, byte for byte.
    assert message.as_bytes().count(b".A line that starts with a dot") >= 1


def test_chunking_and_pipelining_send_the_bytes_as_they_are(factory) -> None:
    server = ChunkingServer(reject={"gone@example.org"})
    try:
        sender = transport(f"smtp://127.0.0.1:{server.port}")
        messages = build(factory, ["a@example.org", "gone@example.org", "b@example.org"])
        sent, gone, also_sent = sender.send(messages)
        sender.close()
    finally:
        server.stop()
    assert (sent.status, sent.provider_id, also_sent.status) == ("sent", "B1", "sent")
    assert (gone.status, gone.bounce) == ("failed", True)
    # BDAT carries the message unchanged: no dot-stuffing, no added line ending.
    assert server.messages == [("a@example.org", messages[0].data),
                               ("b@example.org", messages[2].data)]


def test_dot_stuffing() -> None:
    assert dot_stuffed(b".a\r\n..b\r\nc") == b"..a\r\n...b\r\nc\r\n.\r\n"


def test_starttls_with_a_test_ca_and_auth(factory, certificate, monkeypatch, tmp_path) -> None:
    cert, _ = certificate
    recorder = Recorder()
    server = smtp_server(recorder, tls=certificate, users={"alice": "s3cret"},
                         require_starttls=True, auth_required=True)
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", "s3cret")
    try:
        sender = transport(f"smtp://alice@127.0.0.1:{server.port}?cafile={cert}")
        results = sender.send(build(factory, ["tls@example.org"]))
        sender.close()
        # Without the CA the certificate is not trusted: the send stops, loudly.
        untrusting = transport(f"smtp://alice@127.0.0.1:{server.port}")
        with pytest.raises(TransportError, match="not trusted"):
            untrusting.send(build(factory, ["x@example.org"]))
        monkeypatch.setenv("MAILER_SMTP_PASSWORD", "wrong")
        wrong = transport(f"smtp://alice@127.0.0.1:{server.port}?cafile={cert}")
        with pytest.raises(TransportError, match="refused the login for alice"):
            wrong.send(build(factory, ["x@example.org"]))
    finally:
        server.stop()
    assert [r.status for r in results] == ["sent"]
    assert [rcpt for rcpt, _ in recorder.messages] == ["tls@example.org"]


def test_implicit_tls(factory, certificate) -> None:
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    recorder = Recorder()
    server = smtp_server(recorder, ssl_context=context)
    try:
        sender = transport(f"smtps://127.0.0.1:{server.port}?cafile={cert}")
        results = sender.send(build(factory, ["smtps@example.org"]))
        sender.close()
    finally:
        server.stop()
    assert [r.status for r in results] == ["sent"]


def test_starttls_is_required_off_loopback() -> None:
    with pytest.raises(UsageError, match="tls=maybe is not one of"):
        transport("smtp://mail.example.org?tls=maybe")
    assert transport("smtp://mail.example.org").require_starttls
    assert not transport("smtp://mail.example.org?tls=none").require_starttls
    assert not transport("smtp://127.0.0.1:2525").require_starttls


@pytest.mark.parametrize("pipelining", [False, True])
def test_reply_codes_become_results(factory, pipelining: bool) -> None:
    faults = Faults(reject={"gone@example.org"}, refuse={"policy@example.org"}, temporary=1.0)
    recorder = Recorder(faults, pipelining=pipelining)
    server = smtp_server(recorder)
    try:
        sender = transport(f"smtp://127.0.0.1:{server.port}")
        gone, policy, later = sender.send(
            build(factory, ["gone@example.org", "policy@example.org", "later@example.org"])
        )
        assert sender._connection.has_extn("pipelining") is pipelining
        sender.close()
    finally:
        server.stop()
    assert (gone.status, gone.bounce) == ("failed", True)
    assert "5.1.1" in gone.detail
    assert (policy.status, policy.bounce) == ("failed", False)
    assert later.status == "deferred" and later.detail.startswith("451")


def test_a_dropped_connection_is_deferred_and_reopened(factory) -> None:
    recorder = Recorder(Faults(drop=1.0))
    server = smtp_server(recorder)
    try:
        sender = transport(f"smtp://127.0.0.1:{server.port}")
        first = sender.send(build(factory, ["a@example.org"]))
        recorder.faults.drop = 0.0
        second = sender.send(build(factory, ["a@example.org"]))
        sender.close()
    finally:
        server.stop()
    assert first[0].status == "deferred"
    assert second[0].status == "sent"


def test_nobody_listening_is_deferred(factory) -> None:
    from sending import free_port

    sender = transport(f"smtp://127.0.0.1:{free_port()}?timeout=2")
    results = sender.send(build(factory, ["a@example.org", "b@example.org"]))
    assert [r.status for r in results] == ["deferred", "deferred"]


@pytest.mark.parametrize("pipelining", [False, True])
def test_faults_end_in_exactly_one_delivery_each(factory, tmp_path, pipelining: bool) -> None:
    """Random 421/451 and drops, 550 for chosen readers, 4 connections: once each, or failed."""
    readers = [f"reader{n}@example.org" for n in range(300)]
    rejected = set(readers[::37])
    faults = Faults(reject=rejected, temporary=0.08, closing=0.03, drop=0.03, seed=7)
    recorder = Recorder(faults, pipelining=pipelining)
    server = smtp_server(recorder)
    suppression = SuppressionStore(tmp_path / "suppressions.sqlite3")
    try:
        with Ledger(tmp_path / "ledger.sqlite3") as ledger:
            campaign = Campaign(
                factory, ledger, parse_transport(f"smtp://127.0.0.1:{server.port}", tmp_path),
                Policy(concurrency=4, backoff=0.01, max_backoff=0.05,
                       max_errors_in_a_row=1000),
                suppression=suppression,
            )
            campaign.fill(Subscriber(r) for r in readers)
            summary = campaign.run()
            failed = {row.email for row in ledger.rows("send-test", ("failed",))}
    finally:
        server.stop()
    delivered = recorder.delivered()
    assert set(delivered) == set(readers) - rejected
    assert all(len(ids) == 1 for ids in delivered.values())
    assert failed == rejected
    assert summary.counts.sent == len(readers) - len(rejected)
    assert all(suppression.reason(address) == "bounced" for address in rejected)
    entry = next(suppression.entries())
    assert (entry.source, entry.issue) == ("send", "send-test")
    assert entry.detail.startswith("550 5.1.1")


# -- settings that cannot work stop the send; verify() finds them first ------------------------


class XOAuthOnly(Recorder):
    """A server whose only AUTH mechanism is one mailer does not speak."""

    async def auth_XOAUTH2(self, server, args) -> None:
        return None


def test_an_unknown_host_stops_the_send_at_once(factory) -> None:
    sender = transport("smtp://no-such-host.invalid:587?timeout=5")
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"cannot resolve the host name 'no-such-host\.inv"):
        sender.send(build(factory, ["a@example.org"]))
    with pytest.raises(TransportError, match=r"no-such-host\.invalid:587"):
        sender.verify()
    assert time.monotonic() - started < 10


def test_no_auth_method_in_common_stops_the_send(factory, monkeypatch) -> None:
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", "s3cret")
    server = smtp_server(XOAuthOnly(), users={"alice": "s3cret"},
                         auth_exclude_mechanism=["LOGIN", "PLAIN"])
    try:
        sender = transport(f"smtp://alice@127.0.0.1:{server.port}")
        with pytest.raises(TransportError, match="offers AUTH XOAUTH2; mailer can log in with"):
            sender.send(build(factory, ["a@example.org"]))
        with pytest.raises(TransportError, match="offers AUTH XOAUTH2"):
            sender.verify()
    finally:
        server.stop()


def test_a_wrong_tls_mode_stops_the_send(factory) -> None:
    server = smtp_server(Recorder())
    try:
        sender = transport(f"smtps://127.0.0.1:{server.port}?timeout=5")
        with pytest.raises(TransportError, match=r"TLS handshake failed .*use smtp:// for STARTT"):
            sender.send(build(factory, ["a@example.org"]))
    finally:
        server.stop()


def test_verify_logs_in_and_sends_nothing(factory, monkeypatch) -> None:
    recorder = Recorder()
    server = smtp_server(recorder, users={"alice": "s3cret"})
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", "s3cret")
    try:
        transport(f"smtp://alice@127.0.0.1:{server.port}").verify()
        monkeypatch.setenv("MAILER_SMTP_PASSWORD", "wrong-pw")
        with pytest.raises(TransportError, match="refused the login for alice") as caught:
            transport(f"smtp://alice@127.0.0.1:{server.port}").verify()
    finally:
        server.stop()
    assert "wrong-pw" not in str(caught.value)
    assert recorder.messages == []


def test_verify_reports_nobody_listening(factory) -> None:
    from sending import free_port

    port = free_port()
    with pytest.raises(Unreachable, match=f"cannot connect to 127.0.0.1:{port}"):
        transport(f"smtp://127.0.0.1:{port}?timeout=2").verify()


def test_an_idn_domain_goes_as_ascii_to_a_server_without_smtputf8(factory) -> None:
    recorder = Recorder()
    server = smtp_server(recorder, enable_SMTPUTF8=False)
    try:
        sender = transport(f"smtp://127.0.0.1:{server.port}")
        (result,) = sender.send(build(factory, ["user@bücher.de"]))
        sender.close()
    finally:
        server.stop()
    assert (result.status, result.recipient) == ("sent", "user@bücher.de")
    assert [rcpt for rcpt, _ in recorder.messages] == ["user@xn--bcher-kva.de"]


# -- passwords never show -----------------------------------------------------------------------


@pytest.mark.parametrize("password", ["s3cr/et", "s3?cret", "s3#cret", "s3@cret", "a:b/c?d#e@f"])
def test_a_password_in_the_dsn_is_refused_and_masked(password: str) -> None:
    dsn = f"smtp://apikey:{password}@smtp.example.org:587"
    assert mask(dsn) == "smtp://apikey:***@smtp.example.org:587"
    with pytest.raises(UsageError, match="put the password in the environment") as caught:
        transport(dsn)
    assert password not in str(caught.value)
    assert "smtp://apikey:***@smtp.example.org:587" in str(caught.value)


def test_mask_leaves_dsns_without_a_password_alone() -> None:
    for dsn in ("smtp://alice@mail.example.org:587?tls=none", "outbox://outbox",
                "smtp://127.0.0.1:2525", "sendgrid://?endpoint=http://127.0.0.1:9/"):
        assert mask(dsn) == dsn
    assert mask("sendgrid://?endpoint=https://u:p/w@api.example.org") == (
        "sendgrid://?endpoint=https://u:***@api.example.org"
    )
