"""The campaign runner: the ledger's due rows -> messages -> a transport, N at a time.

It knows the ledger and the transport contract (``mailer.delivery.transports.base``), never a
provider's details. Each of ``concurrency`` worker threads holds its own transport (its own
SMTP connection or HTTP session) and loops: claim a batch (committed as ``sending``), wait for
the shared rate limit, build the messages, send, record the results.

* Deferred results come back after an exponential backoff with jitter, or after the
  server's ``Retry-After`` (which also holds every worker until then); after ``max_attempts``
  the row is failed.
* Permanent failures are recorded with the server's words; unknown addresses (``bounce``) are
  added to the suppression list.
* ``max_errors_in_a_row`` failed or deferred results in a row pause the send (DeliveryError),
  as listmonk does: something is wrong with the server or the account, not with the readers.
* :meth:`Campaign.stop` (Ctrl-C) takes no new batches, lets the ones in flight finish and
  records them; running the same send again resumes.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from mailer.audience.suppression import SuppressionList
from mailer.delivery.ledger import Counts, FillResult, Ledger, LedgerRecipient, Outcome
from mailer.delivery.message import MessageFactory, OutgoingMessage, Recipient
from mailer.delivery.transports.base import RecipientResult, Transport
from mailer.errors import DeliveryError, MailerError


@dataclass(frozen=True)
class Policy:
    """How hard and how fast to send; ``backoff`` is the first retry's delay in seconds."""

    concurrency: int = 4
    rate: float | None = None  # messages per second across all workers
    max_errors_in_a_row: int = 50
    max_attempts: int = 5
    backoff: float = 30.0
    max_backoff: float = 1800.0


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int

    @property
    def done(self) -> int:
        return self.sent + self.failed


@dataclass
class Summary:
    issue_id: str
    counts: Counts  # the whole ledger for the issue, at the end
    sent: int = 0  # in this run
    failed: int = 0
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def per_second(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


class RateLimiter:
    """At most ``per_second`` messages a second across threads (each call books its slots)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / per_second
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def delay(self, count: int) -> float:
        """Book ``count`` messages; the seconds to wait before sending them."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            self._next = start + count * self._interval
            return start - now


class Builder:
    """Messages for one transport: full MIME bytes, or only the parts an ESP fills in."""

    def __init__(self, factory: MessageFactory, needs_mime: bool, *, test: bool = False) -> None:
        self.factory = factory
        self.needs_mime = needs_mime
        self.test = test

    def __call__(self, recipient: Recipient) -> OutgoingMessage:
        return self.factory.build(recipient, test=self.test, mime=self.needs_mime)


@dataclass
class _Shared:
    """State the workers share, guarded by ``lock``."""

    sent: int = 0
    failed: int = 0
    errors_in_a_row: int = 0
    in_flight: int = 0
    hold_until: float = 0.0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Campaign:
    """Sends one issue to the rows of the ledger."""

    def __init__(
        self,
        factory: MessageFactory,
        ledger: Ledger,
        transports: Callable[[], Transport],
        policy: Policy = Policy(),
        *,
        suppression: SuppressionList | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.factory = factory
        self.issue_id = factory.content.issue_id
        self.ledger = ledger
        self.transports = transports
        self.policy = policy
        self.suppression = suppression
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._shared = _Shared()
        self._limiter = RateLimiter(policy.rate) if policy.rate else None
        self._failure: BaseException | None = None
        self._paused: str | None = None
        self._total = 0
        self._start_sent = self._start_failed = 0

    def fill(self, audience: Iterable[Recipient]) -> FillResult:
        """Queue the audience in the ledger (a no-op for readers already there)."""
        result = self.ledger.fill(self.issue_id, audience)
        self._baseline()
        return result

    def _baseline(self) -> None:
        """Where the ledger stands before this run sends anything (progress starts there)."""
        counts = self.ledger.counts(self.issue_id)
        self._total, self._start_sent, self._start_failed = counts.total, counts.sent, counts.failed

    def stop(self) -> None:
        """Take no new batches; the ones in flight finish and are recorded."""
        self._stop.set()

    def run(self) -> Summary:
        """Send every due row until none is left; DeliveryError if the send had to pause."""
        self._baseline()
        started = time.monotonic()
        interrupted = False

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            nonlocal interrupted
            interrupted = True
            self.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C kills

        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
        try:
            workers = [
                threading.Thread(target=self._work, name=f"sender-{n}", daemon=True)
                for n in range(self.policy.concurrency)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        shared = self._shared
        summary = Summary(
            self.issue_id, self.ledger.counts(self.issue_id), sent=shared.sent,
            failed=shared.failed, elapsed=time.monotonic() - started, interrupted=interrupted,
        )
        if self._failure is not None:
            raise self._failure
        if self._paused is not None:
            raise DeliveryError(
                f"paused after {self.policy.max_errors_in_a_row} errors in a row "
                f"(the last: {self._paused}); {summary.counts.sent} of {summary.counts.total} "
                "sent so far. Fix the cause, then run the same send again to resume"
            )
        return summary

    # -- the workers ------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            transport = self.transports()
        except BaseException as exc:
            self._fail(exc)
            return
        build = Builder(self.factory, transport.needs_mime)
        batch_size = transport.max_batch
        if self.policy.rate:  # keep bursts short when the rate is low
            batch_size = max(1, min(batch_size, int(self.policy.rate)))
        try:
            while not self._stop.is_set():
                if self._held():
                    continue
                rows = self.ledger.claim(self.issue_id, batch_size)
                if not rows:
                    if self._wait_for_due():
                        continue
                    return
                self._deliver(transport, build, rows)
        except BaseException as exc:
            self._fail(exc)
        finally:
            transport.close()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._stop.set()

    def _held(self) -> bool:
        """Wait (a little) while a server's Retry-After holds everyone; True if waited."""
        wait = self._shared.hold_until - time.time()
        if wait > 0:
            self._stop.wait(min(wait, 0.5))
            return True
        return False

    def _wait_for_due(self) -> bool:
        """No row is due now: wait for one (True), or report that all are done (False)."""
        due = self.ledger.next_due(self.issue_id)
        with self._shared.lock:
            in_flight = self._shared.in_flight
        if due is None and in_flight == 0:
            return False
        wait = 0.05 if due is None else due - time.time()
        self._stop.wait(min(max(wait, 0.01), 0.5))
        return True

    def _deliver(self, transport: Transport, build: Builder, rows: list[LedgerRecipient]) -> None:
        shared = self._shared
        with shared.lock:
            shared.in_flight += len(rows)
        try:
            if self._limiter is not None and self._stop.wait(self._limiter.delay(len(rows))):
                # Stopped while waiting for the rate limit: nothing was handed over.
                self.ledger.record([Outcome(r.id, "queued", attempted=False) for r in rows])
                return
            outcomes: list[Outcome] = []
            sendable: list[LedgerRecipient] = []
            messages: list[OutgoingMessage] = []
            for row in rows:
                try:
                    messages.append(build(row))
                    sendable.append(row)
                except MailerError as exc:  # a header injection, an impossible address
                    outcomes.append(Outcome(row.id, "failed", reason=str(exc)))
            try:
                results = transport.send(messages) if messages else []
            except BaseException:
                # Nothing of this batch was accepted: back in the queue, not an attempt.
                self.ledger.record([Outcome(r.id, "queued", attempted=False) for r in sendable])
                raise
            if len(results) != len(messages):
                raise RuntimeError(
                    f"{transport.name} returned {len(results)} results for {len(messages)} "
                    "messages"
                )
            outcomes += [self._outcome(r, res) for r, res in zip(sendable, results, strict=True)]
            self.ledger.record(outcomes)
            self._bounce(sendable, results)
            self._count(outcomes)
        finally:
            with shared.lock:
                shared.in_flight -= len(rows)
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def _outcome(self, row: LedgerRecipient, result: RecipientResult) -> Outcome:
        if result.delivered:
            return Outcome(
                row.id, "sent", message_id=result.message_id, provider_id=result.provider_id,
                response=result.detail,
            )
        if result.status == "failed":
            return Outcome(row.id, "failed", message_id=result.message_id, reason=result.detail)
        attempts = row.attempts + 1
        if attempts >= self.policy.max_attempts:
            return Outcome(
                row.id, "failed", message_id=result.message_id,
                reason=f"gave up after {attempts} attempts; the last: {result.detail}",
            )
        now = time.time()
        if result.retry_after is not None:
            delay = result.retry_after
            with self._shared.lock:
                self._shared.hold_until = max(self._shared.hold_until, now + delay)
        else:
            delay = self.backoff(attempts)
        return Outcome(
            row.id, "deferred", message_id=result.message_id, reason=result.detail,
            next_attempt_at=now + delay,
        )

    def backoff(self, attempts: int) -> float:
        """Exponential in the attempts made, with jitter so retries do not arrive in step."""
        ceiling = min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _bounce(self, rows: Sequence[LedgerRecipient], results: Sequence[RecipientResult]) -> None:
        if self.suppression is None:
            return
        for row, result in zip(rows, results, strict=True):
            if result.bounce:
                # ValueError: not an address the list can hold; the ledger has the failure.
                with contextlib.suppress(ValueError):
                    self.suppression.add(row.email, "bounced")

    def _count(self, outcomes: Sequence[Outcome]) -> None:
        shared = self._shared
        with shared.lock:
            for outcome in outcomes:
                if outcome.state == "sent":
                    shared.sent += 1
                    shared.errors_in_a_row = 0
                    continue
                if outcome.state == "failed":
                    shared.failed += 1
                shared.errors_in_a_row += 1
                shared.last_error = outcome.reason or ""
            if shared.errors_in_a_row >= self.policy.max_errors_in_a_row and self._paused is None:
                self._paused = shared.last_error
                self._stop.set()

    def progress(self) -> Progress:
        shared = self._shared
        return Progress(
            total=self._total,
            sent=self._start_sent + shared.sent,
            failed=self._start_failed + shared.failed,
        )


@dataclass(frozen=True)
class DryRun:
    messages: int
    size: int  # bytes of all messages together
    seconds: float


def dry_run(factory: MessageFactory, audience: Iterable[Recipient]) -> DryRun:
    """Build every message, and send none.

    Always the whole MIME message, whatever the transport: only building it checks the
    subject for line breaks and the header lengths, and gives the real size.
    """
    started = time.monotonic()
    count = size = 0
    for recipient in audience:
        size += len(factory.build(recipient).data)
        count += 1
    return DryRun(count, size, time.monotonic() - started)


def send_test(
    factory: MessageFactory, transport: Transport, recipients: Sequence[Recipient]
) -> list[RecipientResult]:
    """Send a ``[TEST]`` copy to each of ``recipients``, outside the ledger."""
    build = Builder(factory, transport.needs_mime, test=True)
    messages = [build(r) for r in recipients]
    results: list[RecipientResult] = []
    for start in range(0, len(messages), transport.max_batch):
        results += transport.send(messages[start:start + transport.max_batch])
    return results
