"""The campaign runner: retries, pauses, rate, and exactly-once delivery across kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sending import Recorder, make_project, smtp_server, write_subscribers

from mailer.audience.subscribers import Subscriber
from mailer.compose.issue import load
from mailer.delivery.campaign import Campaign, Policy, RateLimiter, dry_run, send_test
from mailer.delivery.ledger import Ledger
from mailer.delivery.message import MessageFactory, OutgoingMessage
from mailer.delivery.prepare import prepare
from mailer.delivery.transports import RecipientResult, Transport, parse_transport
from mailer.errors import DeliveryError, HeaderInjection, TransportError

MAILER = [sys.executable, "-c", "from mailer.cli import main; main()"]


@pytest.fixture(scope="module")
def issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("campaign"))


@pytest.fixture(scope="module")
def factory(issue: Path) -> MessageFactory:
    return prepare(load(issue), real_send=False).factory


class Scripted(Transport):
    """A transport whose answer for each message comes from ``answer(message, attempt)``."""

    name = "scripted"
    max_batch = 10

    def __init__(self, answer: Callable[[OutgoingMessage, int], RecipientResult]) -> None:
        self.answer = answer
        self.attempts: dict[str, int] = {}

    def stream(self, messages: Sequence[OutgoingMessage]) -> Iterator[list[RecipientResult]]:
        for message in messages:
            attempt = self.attempts[message.recipient] = self.attempts.get(message.recipient, 0) + 1
            yield [self.answer(message, attempt)]


def result(message: OutgoingMessage, status: str, **kwargs) -> RecipientResult:
    return RecipientResult(message.recipient, message.message_id, status, **kwargs)  # type: ignore[arg-type]


def run(factory, tmp_path, transport: Transport, count: int, **policy) -> tuple[Campaign, Ledger]:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    campaign = Campaign(
        factory, ledger, lambda: transport, Policy(concurrency=1, backoff=0.01, **policy)
    )
    campaign.fill(Subscriber(f"r{n}@example.org") for n in range(count))
    return campaign, ledger


def test_deferred_messages_are_retried_until_they_go(factory, tmp_path) -> None:
    transport = Scripted(lambda m, n: result(m, "sent" if n >= 3 else "deferred", detail="451"))
    campaign, ledger = run(factory, tmp_path, transport, 5, max_errors_in_a_row=100)
    summary = campaign.run()
    assert summary.counts.sent == 5
    assert set(transport.attempts.values()) == {3}
    assert {row.attempts for row in ledger.rows("send-test")} == {3}


def test_a_temporary_failure_never_fails_a_reader(factory, tmp_path) -> None:
    """Tried for ``retry_for`` seconds, then left deferred for the next run, which tries at
    once: a reader is never lost to a server that says "later" for a while."""
    transport = Scripted(lambda m, n: result(m, "sent" if n > 4 else "deferred", detail="451 busy"))
    campaign, ledger = run(factory, tmp_path, transport, 3, retry_for=0.05, max_errors_in_a_row=99)
    summary = campaign.run()
    assert (summary.counts.deferred, summary.counts.failed) == (3, 0)
    assert summary.last_deferral == "451 busy" and summary.next_try is not None
    assert {row.reason for row in ledger.rows("send-test")} == {"451 busy"}
    again = Campaign(factory, ledger, lambda: transport, Policy(concurrency=1, backoff=0.01))
    again.fill(Subscriber(f"r{n}@example.org") for n in range(3))
    assert again.run().counts.sent == 3
    assert set(transport.attempts.values()) == {5}


def test_too_many_errors_in_a_row_pause_the_send(factory, tmp_path) -> None:
    transport = Scripted(lambda m, n: result(m, "deferred", detail="421 go away"))
    campaign, ledger = run(factory, tmp_path, transport, 30, max_errors_in_a_row=10)
    with pytest.raises(DeliveryError, match=r"paused after 10 errors in a row \(the last: 421"):
        campaign.run()
    counts = ledger.counts("send-test")
    assert counts.sending == 0 and counts.failed == 0  # paused, not given up: resumable
    assert counts.deferred == 10


def test_retry_after_holds_the_send(factory, tmp_path) -> None:
    transport = Scripted(
        lambda m, n: result(m, "sent") if n > 1 else result(m, "deferred", retry_after=0.4)
    )
    campaign, _ = run(factory, tmp_path, transport, 3)
    started = time.monotonic()
    assert campaign.run().counts.sent == 3
    assert time.monotonic() - started >= 0.4


def test_a_broken_transport_stops_and_releases_its_batch(factory, tmp_path) -> None:
    class Refused(Transport):
        name = "refused"

        def stream(self, messages):
            raise TransportError("Example", "bad API key", 401)
            yield  # a generator, as every stream is

    campaign, ledger = run(factory, tmp_path, Refused(), 3)
    with pytest.raises(TransportError, match=r"Example \(HTTP 401\): bad API key"):
        campaign.run()
    assert ledger.counts("send-test").queued == 3


def test_the_rate_limit_holds_across_workers(factory, tmp_path) -> None:
    clock = [0.0]
    limiter = RateLimiter(10, clock=lambda: clock[0])
    assert [limiter.delay(1) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    transport = Scripted(lambda m, n: result(m, "sent"))
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    campaign = Campaign(factory, ledger, lambda: transport, Policy(concurrency=3, rate=40))
    campaign.fill(Subscriber(f"r{n}@example.org") for n in range(40))
    started = time.monotonic()
    campaign.run()
    # Four batches of 10 at 40/s: the last may start 0.75 s after the first.
    assert time.monotonic() - started >= 0.74


def test_backoff_is_exponential_with_jitter(factory, tmp_path) -> None:
    campaign = Campaign(factory, None, lambda: None, Policy(backoff=10, max_backoff=60))  # type: ignore[arg-type]
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [campaign.backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_a_smaller_subscriber_list_holds_the_others_for_a_later_send(factory, tmp_path) -> None:
    everyone = [Subscriber(f"r{n}@example.org") for n in range(30)]

    def answer(message: OutgoingMessage, attempt: int) -> RecipientResult:
        if len(transport.attempts) == 10:
            first.stop()  # Ctrl-C after the tenth message
        return result(message, "sent")

    transport = Scripted(answer)
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        first = Campaign(factory, ledger, lambda: transport, Policy(concurrency=1))
        first.fill(everyone)
        assert first.run().sent == 10
        smaller = Campaign(factory, ledger, lambda: transport, Policy(concurrency=1))
        assert smaller.fill(everyone[:15]).left == 15
        assert smaller.run().sent == 5  # r10..r14; r15..r29 wait for a list that has them
        full = Campaign(factory, ledger, lambda: transport, Policy(concurrency=1))
        assert full.fill(everyone).left == 0
        summary = full.run()
    assert summary.sent == 15 and summary.counts.sent == 30
    assert transport.attempts == {reader.email: 1 for reader in everyone}


def test_stop_while_waiting_for_the_rate_limit_sends_no_more(factory, tmp_path) -> None:
    transport = Scripted(lambda m, n: result(m, "sent"))
    campaign, ledger = run(factory, tmp_path, transport, 5, rate=0.2)  # a batch each 5 s
    runner = threading.Thread(target=campaign.run)
    runner.start()
    deadline = time.monotonic() + 5
    while not (transport.attempts and ledger.counts("send-test").sending):
        assert time.monotonic() < deadline, "the second batch was never claimed"
        time.sleep(0.01)
    stopped = time.monotonic()
    campaign.stop()
    runner.join(10)
    assert time.monotonic() - stopped < 1  # not after the booked 5 s
    assert len(transport.attempts) == 1
    counts = ledger.counts("send-test")
    assert (counts.sent, counts.queued, counts.sending) == (1, 4, 0)
    assert {row.attempts for row in ledger.rows("send-test", ("queued",))} == {0}


@pytest.mark.parametrize("needs_mime", [True, False], ids=["mime", "esp"])
def test_a_test_copy_has_its_own_message_id(factory, tmp_path, needs_mime) -> None:
    outbox = parse_transport(f"outbox://{tmp_path / 'outbox'}", tmp_path)()

    class Capture(Scripted):
        def send(self, messages):
            results = outbox.send(messages) if needs_mime else []
            self.sent = list(messages)
            return results or [result(m, "sent") for m in messages]

    capture = Capture(lambda m, n: result(m, "sent"))
    capture.needs_mime = needs_mime
    reader = Subscriber("editor@example.org", first_name="Ed")
    real = factory.build(reader)
    outbox.send([real])
    send_test(factory, capture, [reader])
    (test,) = capture.sent
    assert test.message_id != real.message_id
    assert test.message_id.startswith("send-test.test.")
    assert test.message_id.endswith("@" + real.message_id.rsplit("@")[1])
    values = test.personalisation.values
    assert test.content.subject.fill(values) == "[TEST] " + real.content.subject.fill(values)
    if needs_mime:
        parsed = message_from_bytes(test.data, policy=policy.default)
        assert parsed["Subject"] == "[TEST] News for Ed"
        assert parsed["Message-ID"] == f"<{test.message_id}>"
        assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2  # the real one is kept


def test_a_dry_run_builds_the_whole_message_for_any_transport(factory) -> None:
    readers = [Subscriber(f"r{n}@example.org") for n in range(3)]
    built = dry_run(factory, readers)
    assert built.messages == 3
    assert built.size == sum(len(factory.build(reader).data) for reader in readers)
    injected = Subscriber("r@example.org", first_name="Ed\r\nBcc: victim@example.com")
    with pytest.raises(HeaderInjection, match="subject contains a line break"):
        dry_run(factory, [injected])


# -- kill -9 and Ctrl-C of a real `mailer send` -------------------------------------------------


def send_process(issue: Path, port: int, subscribers: Path) -> subprocess.Popen:
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": "s" * 40, "MAILER_CONCURRENCY": "4"}
    return subprocess.Popen(
        [*MAILER, "send", str(issue), "--yes", "--subscribers", str(subscribers),
         "--transport", f"smtp://127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def in_flight(ledger: Path) -> set[str]:
    with Ledger(ledger) as book:
        return {row.email for row in book.rows("send-test", ("sending",))}


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_and_says_how_to_resume(issue: Path, tmp_path) -> None:
    write_subscribers(tmp_path / "subscribers.csv", 3000)
    ledger = issue.parents[1] / ".mailer" / "ledger.sqlite3"
    recorder = Recorder()
    server = smtp_server(recorder)
    try:
        process = send_process(issue, server.port, tmp_path / "subscribers.csv")
        while len(recorder.messages) < 100 and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        server.stop()
    assert process.returncode == 130, err
    assert "Interrupted" in out and "To resume, run: mailer send" in out
    assert in_flight(ledger) == set()
    with Ledger(ledger) as book:
        assert book.counts("send-test").sent == len(recorder.messages)
    ledger.unlink()
