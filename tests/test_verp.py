"""VERP: with ``[bounces] address``, each message's envelope sender names its reader."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from sending import Recorder, make_bounce_project, smtp_server, write_subscribers
from typer.testing import CliRunner

from mailer.audience.store import SuppressionStore
from mailer.audience.verp import TOKEN_LENGTH, Verp, VerpTokens
from mailer.cli import app

SECRET = "verp-test-secret-0123456789abcdef"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_bounce_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    return tmp_path / "news"


def test_tokens_are_short_lowercase_signed_and_read_back_in_any_case() -> None:
    verp = Verp(SECRET, "bounces@example.org")
    envelope = verp.envelope("2018-03-iom-turkey", "Ayse@Example.org")
    local = envelope.split("@")[0]
    token = local.split("+")[1]
    assert len(local.encode()) <= 64 and len(token) == TOKEN_LENGTH and token == token.lower()
    assert envelope == verp.envelope("2018-03-iom-turkey", "ayse@example.org")
    assert verp.token_of(envelope.upper()) == token  # a system that upper-cased it
    assert verp.token_of(f"<{envelope}>") == token
    assert token != Verp("another-secret-0123456789", "bounces@example.org").token(
        "2018-03-iom-turkey", "ayse@example.org"
    )  # not to be guessed without the secret
    assert verp.token_of("bounces@example.org") is None
    assert verp.token_of(f"other+{token}@example.org") is None
    assert verp.token_of("bounces+short@example.org") is None


def test_smtp_envelope_and_outbox_return_path_carry_the_token(project: Path) -> None:
    addresses = write_subscribers(project / "subscribers.example.csv", 3)
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        result = CliRunner().invoke(app, ["send", "issues/send-test.yaml", "--yes", "--transport",
                                          f"smtp://127.0.0.1:{server.port}"])
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    verp = Verp(SECRET, "bounces@example.org")
    senders = set(recorder.senders)
    with SuppressionStore(project / ".mailer" / "suppressions.sqlite3") as store:
        for address in addresses:
            envelope = verp.envelope("send-test", address)
            assert envelope in senders
            assert VerpTokens(store).lookup(verp.token_of(envelope)) == ("send-test", address)

    outbox = CliRunner().invoke(app, ["send", "issues/send-test.yaml", "--yes", "--ledger",
                                      "outbox-ledger.sqlite3"])
    assert outbox.exit_code == 0, outbox.output
    written = [email.message_from_bytes(p.read_bytes()) for p in (project / "outbox" / "new")
               .iterdir()]
    assert sorted(m["Return-Path"] for m in written) == sorted(
        f"<{verp.envelope('send-test', a)}>" for a in addresses
    )
