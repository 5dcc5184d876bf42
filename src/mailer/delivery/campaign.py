"""The campaign runner: the ledger's due rows -> messages -> a transport, N at a time.

It knows the ledger and the transport contract (``mailer.delivery.transports.base``), never a
provider's details. Each of ``concurrency`` worker threads holds its own transport (its own
SMTP connection or HTTP session) and loops: claim a batch (committed as ``sending``), wait for
the shared rate limit, build the messages, and hand them to the transport, which yields each
result as soon as its server answered. Each result is committed to the ledger before the
transport hands over the next message (or, for an ESP, the next request): so a killed process
leaves at most one message per connection, or one request per worker, sent but unrecorded.

* Temporary failures are tried again on a schedule a person can wait for: after 1, 2, 4, 8 ...
  seconds (with jitter, at most ``max_backoff``), or after the server's ``Retry-After``, which
  also holds every worker until then. A row is tried for ``retry_for`` seconds from its first
  deferral in this run; then it stays ``deferred`` for the next run (which tries it at once),
  and the run ends when nothing else is due. A row never fails for a temporary reason.
* Permanent failures are recorded with the server's words; unknown addresses (``bounce``) are
  added to the suppression list.
* ``max_errors_in_a_row`` failed or deferred outcomes in a row pause the send
  (DeliveryError), as listmonk does: something is wrong with the server or the account, not
  with the readers. An outcome shared by a whole request (an ESP's 429 or 5xx) is one error.
* A TransportError (a refused login, an account not allowed to send) stops the send; the rows
  it did not take go back to the queue, and nobody is failed.
* :meth:`Campaign.stop` (Ctrl-C) hands nothing more over, records what was in flight, and
  returns; running the same send again resumes.
* Failover: with further transports (``failover``), a TransportError (the provider refused the
  account) or ``failover_after`` seconds without a message accepted, only deferrals, ends the
  current transport's round: its workers stop and record what was in flight, the rows it
  deferred are due at once, and the readers left go through the next transport (verified
  first). A row that one transport accepted is ``sent`` and never claimed again, so nobody gets
  the issue through two; each sent row records the transport that carried it.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType

from mailer.audience.store import SuppressionStore
from mailer.audience.verp import VerpTokens
from mailer.console import count
from mailer.delivery.editions import EditionFactory
from mailer.delivery.ledger import Counts, FillResult, Ledger, LedgerRecipient, Outcome
from mailer.delivery.message import MessageFactory, OutgoingMessage, Recipient
from mailer.delivery.transports.base import RecipientResult, Transport
from mailer.errors import DeliveryError, MailerError, TransportError, Unreachable
from mailer.fields import domain_of

Factory = MessageFactory | EditionFactory  # one edition, or an issue's several

PROGRESS_EVERY = 0.5  # seconds between progress reports to ``on_progress``
VERP_CHUNK = 1000  # VERP tokens given to the store in one transaction


@dataclass(frozen=True)
class Policy:
    """How hard and how fast to send; ``backoff`` is the first retry's delay in seconds."""

    concurrency: int = 4
    rate: float | None = None  # messages per second across all workers
    max_errors_in_a_row: int = 50
    retry_for: float = 900.0  # seconds a deferred row is retried in one run
    backoff: float = 1.0
    max_backoff: float = 300.0
    failover_after: float = 120.0  # seconds of deferrals only before the next transport


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    deferred: int = 0  # rows waiting to be tried again

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
    next_try: float | None = None  # when rows left deferred are due again (epoch seconds)
    last_deferral: str = ""  # the server's words on the last deferral
    withheld: int = 0  # not sent: their reader was suppressed while the send ran
    failovers: list[str] = field(default_factory=list)  # why each transport was left

    @property
    def per_second(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


class RateLimiter:
    """At most ``per_second`` messages a second across threads (each call books its slots)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
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

    def __init__(self, factory: Factory, needs_mime: bool, *, test: bool = False) -> None:
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
    last_deferral: str = ""
    # row id -> (first deferral in this run, deferrals in this run), for rows still waiting
    retries: dict[int, tuple[float, int]] = field(default_factory=dict)
    parked: int = 0  # rows left deferred for the next run
    stopped: set[str] = field(default_factory=set)  # addresses suppressed during the send
    withheld: int = 0  # rows not sent because their reader was suppressed during the send
    next_try: float | None = None  # the earliest next attempt of a parked row
    # Since when only deferrals came back from this transport (None: it accepted or refused
    # the last message it was asked about, so it is reachable).
    failing_since: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Campaign:
    """Sends one issue to the rows of the ledger."""

    def __init__(
        self,
        factory: Factory,
        ledger: Ledger,
        transports: Callable[[], Transport],
        policy: Policy = Policy(),
        *,
        suppression: SuppressionStore | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        failover: Sequence[Callable[[], Transport]] = (),
        allowed_rate: float | None = None,
    ) -> None:
        """``failover``: the transports to go on with, in order, when ``transports`` refuses
        the account or stays unreachable; ``allowed_rate``: the send rate the first one's
        provider allows the account (read when it was verified), kept as well as ``policy``'s.
        """
        self.factory = factory
        self.issue_id = factory.content.issue_id
        self.ledger = ledger
        self.transports = transports
        self.failover = list(failover)
        self.policy = policy
        self.suppression = suppression
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._shared = _Shared()
        self._limiter = self._limit(allowed_rate)
        self._carrier = _carrier(transports)
        self._failure: BaseException | None = None
        self._paused: str | None = None
        self._unreachable: str | None = None  # why this transport's round ended, failing over
        self._interrupted = False
        self._total = 0
        self._start_sent = self._start_failed = 0

    def _limit(self, allowed: float | None) -> RateLimiter | None:
        """The rate limiter for a transport whose provider allows ``allowed`` a second."""
        rates = [rate for rate in (self.policy.rate, allowed) if rate]
        return RateLimiter(min(rates)) if rates else None

    def fill(self, audience: Iterable[Recipient], *, commit: str | None = None) -> FillResult:
        """Queue the audience in the ledger (a no-op for readers already there); ``commit``:
        the git commit the messages are made from, recorded in each row."""
        domain = domain_of(self.factory.content.sender_address)
        result = self.ledger.fill(
            self.issue_id, self._registering(audience), domain=domain,
            edition_of=self.factory.edition_of, commit=commit,
            source_of=lambda reader: getattr(reader, "source", None),
        )
        self._baseline()
        return result

    def _registering(self, audience: Iterable[Recipient]) -> Iterator[Recipient]:
        """``audience``, with each reader's VERP token given to the store before any message
        goes out, so a bounce that comes back at once already names its reader."""
        verp = self.factory.verp
        if verp is None or self.suppression is None:
            yield from audience
            return
        registry = VerpTokens(self.suppression)
        tokens: list[tuple[str, str]] = []
        for reader in audience:
            tokens.append((verp.token(self.issue_id, reader.email), reader.email))
            if len(tokens) == VERP_CHUNK:
                registry.register(self.issue_id, tokens)
                tokens = []
            yield reader
        registry.register(self.issue_id, tokens)

    def _baseline(self) -> None:
        """Where the ledger stands before this run sends anything (progress starts there)."""
        counts = self.ledger.counts(self.issue_id)
        self._total, self._start_sent, self._start_failed = counts.total, counts.sent, counts.failed

    def stop(self) -> None:
        """Hand nothing more over; what is in flight finishes and is recorded."""
        self._stop.set()

    def run(self) -> Summary:
        """Send every due row until none is left; DeliveryError if the send had to pause."""
        self._baseline()
        started = time.monotonic()
        failovers: list[str] = []

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            self._interrupted = True
            self.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C kills

        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
        try:
            self._round()
            while self.failover and not self._interrupted and self._paused is None and (
                isinstance(self._failure, TransportError) or self._unreachable
            ):
                failovers.append(self._fail_over())
                self._round()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        shared = self._shared
        summary = Summary(
            self.issue_id, self.ledger.counts(self.issue_id), sent=shared.sent,
            failed=shared.failed, elapsed=time.monotonic() - started,
            interrupted=self._interrupted, next_try=shared.next_try,
            last_deferral=shared.last_deferral, withheld=shared.withheld, failovers=failovers,
        )
        if self._failure is not None:
            raise self._failure
        if self._paused is not None:
            raise DeliveryError(
                f"paused after {count(self.policy.max_errors_in_a_row, 'error')} in a row "
                f"(the last: {self._paused}); {summary.counts.sent} of {summary.counts.total} "
                "sent so far. Fix the cause, then run the same send again to resume"
            )
        return summary

    def _round(self) -> None:
        """Send through the current transport until nothing is due, or the round ends."""
        workers = [
            threading.Thread(target=self._work, name=f"sender-{n}", daemon=True)
            for n in range(self.policy.concurrency)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(PROGRESS_EVERY)
                self._report()
        self._report()

    def _fail_over(self) -> str:
        """Leave the current transport for the next one (verified first; one that fails that
        is left too): why the current one was left."""
        why = str(self._failure) if self._failure is not None else str(self._unreachable)
        left = f"{self._carrier or 'the transport'}: {why}"
        self._failure = self._unreachable = None
        while True:
            self.transports = self.failover.pop(0)
            self._carrier = _carrier(self.transports)
            try:
                allowed = _verified(self.transports)
                break
            except (TransportError, Unreachable) as exc:
                if not self.failover:
                    raise
                left += f"; {self._carrier or 'the next transport'}: {exc}"
        self._limiter = self._limit(allowed)
        shared = self._shared
        with shared.lock:
            shared.retries.clear()
            shared.hold_until = 0.0
            shared.errors_in_a_row = 0
            shared.failing_since = None
        self.ledger.due_now(self.issue_id)
        self._stop.clear()
        return left

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())

    # -- the workers ------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            transport = self.transports()
        except BaseException as exc:
            self._fail(exc)
            return
        build = Builder(self.factory, transport.needs_mime)
        batch_size = transport.max_batch
        if self._limiter is not None:  # keep bursts short when the rate is low
            batch_size = max(1, min(batch_size, int(self._limiter.per_second)))
        try:
            while not self._stop.is_set():
                if self._gone_quiet():
                    return
                if self._held():
                    continue
                rows = self.ledger.claim(self.issue_id, batch_size)
                if not rows:
                    if self._wait_for_due():
                        continue
                    return
                rows = self._withhold_unsubscribed(rows)
                if rows:
                    self._deliver(transport, build, rows)
        except BaseException as exc:
            self._fail(exc)
        finally:
            transport.close()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._stop.set()

    def _gone_quiet(self) -> bool:
        """With a transport to fail over to: whether this one has only deferred, accepting
        nothing, for ``failover_after`` seconds (then this round ends)."""
        if not self.failover:
            return False
        since = self._shared.failing_since
        if since is None or time.time() - since < self.policy.failover_after:
            return False
        with self._shared.lock:
            if self._unreachable is None:
                self._unreachable = (
                    f"no message accepted for {self.policy.failover_after:g} s, only "
                    f"deferrals (the last: {self._shared.last_deferral})"
                )
        self._stop.set()
        return True

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
        """Send ``rows``, recording each outcome before the next message is handed over."""
        shared = self._shared
        with shared.lock:
            shared.in_flight += len(rows)
        done: set[int] = set()
        try:
            if self._limiter is not None and self._stop.wait(self._limiter.delay(len(rows))):
                return  # stopped while waiting for the rate limit: nothing was handed over
            sendable: list[LedgerRecipient] = []
            messages: list[OutgoingMessage] = []
            for row in rows:
                try:
                    messages.append(build(row))
                    sendable.append(row)
                except MailerError as exc:  # a header injection, an impossible address
                    failed = RecipientResult(row.email, "", "failed", detail=str(exc))
                    self.ledger.record([self._outcome(row, failed)])
                    self._count([(row, failed)])
                    done.add(row.id)
            for part in _by_content(sendable, messages):
                if self._stop.is_set():
                    break  # Ctrl-C, a pause or another worker's failure: hand over no more
                self._exchange(transport, part, done)
        finally:
            # Whatever was not answered was not handed over: back in the queue, no attempt.
            released = [Outcome(r.id, "queued", attempted=False) for r in rows if r.id not in done]
            if released:
                self.ledger.record(released)
            with shared.lock:
                shared.in_flight -= len(rows)

    def _exchange(
        self, transport: Transport, part: list[tuple[LedgerRecipient, OutgoingMessage]],
        done: set[int],
    ) -> None:
        """Hand ``part`` (one edition's messages) over, recording each exchange's outcome."""
        exchanges = transport.stream([message for _, message in part])
        waiting = (row for row, _ in part)
        try:
            for results in exchanges:
                answered = [(next(waiting), result) for result in results]
                self.ledger.record([self._outcome(row, r) for row, r in answered])
                done.update(row.id for row, _ in answered)
                self._count(answered)
                if self._stop.is_set():
                    break
        finally:
            exchanges.close()

    def _outcome(self, row: LedgerRecipient, result: RecipientResult) -> Outcome:
        if result.delivered:
            return Outcome(
                row.id, "sent", provider_id=result.provider_id, shared_id=result.shared,
                transport=self._carrier,
            )
        if result.status == "failed":
            return Outcome(row.id, "failed", reason=result.detail)
        now = time.time()
        shared = self._shared
        with shared.lock:
            first, tries = shared.retries.get(row.id, (now, 0))
            tries += 1
            shared.retries[row.id] = (first, tries)
            shared.last_deferral = result.detail
            if result.retry_after is not None:
                shared.hold_until = max(shared.hold_until, now + result.retry_after)
        delay = result.retry_after if result.retry_after is not None else self.backoff(tries)
        due = now + delay
        park = due > first + self.policy.retry_for
        if park:  # left for the next run, which tries it at once
            with shared.lock:
                shared.retries.pop(row.id, None)
                shared.parked += 1
                shared.next_try = due if shared.next_try is None else min(shared.next_try, due)
        return Outcome(row.id, "deferred", reason=result.detail, next_attempt_at=due, park=park)

    def backoff(self, attempts: int) -> float:
        """Exponential in the attempts made, with jitter so retries do not arrive in step."""
        ceiling = min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _bounce(self, row: LedgerRecipient, result: RecipientResult) -> None:
        if self.suppression is not None:
            # ValueError: not an address the store can hold; the ledger has the failure.
            with contextlib.suppress(ValueError):
                self.suppression.add(
                    row.email, "bounced", "send", issue=self.issue_id, detail=result.detail
                )

    def _withhold_unsubscribed(self, rows: list[LedgerRecipient]) -> list[LedgerRecipient]:
        """Rows whose reader was suppressed since the send began (an unsubscribe through
        ``mailer serve``, a bounce read by ``mailer bounces``) are held back, not sent; the
        others are returned. Costs one ``PRAGMA data_version`` when nothing changed."""
        if self.suppression is None:
            return rows
        with self._shared.lock:
            self._shared.stopped |= {a for a in self.suppression.new_since_watched()}
            stopped = self._shared.stopped
        if not stopped:
            return rows
        held = [row for row in rows if row.email.lower() in stopped]
        if held:
            self.ledger.record([Outcome(r.id, "queued", attempted=False, park=True) for r in held])
            with self._shared.lock:
                self._shared.withheld += len(held)
        return [row for row in rows if row.email.lower() not in stopped]

    def _count(self, answered: Sequence[tuple[LedgerRecipient, RecipientResult]]) -> None:
        """Tally one exchange's results. An answer shared by a whole request (one 429 for
        1,000 readers) is one error, not one per reader."""
        for row, result in answered:
            if result.bounce:
                self._bounce(row, result)
        state = self._shared
        with state.lock:
            shared_counted = False
            for row, result in answered:
                if result.status != "deferred":
                    state.retries.pop(row.id, None)
                    state.failing_since = None  # the server answered: it is reachable
                elif state.failing_since is None:
                    state.failing_since = time.time()
                if result.delivered:
                    state.sent += 1
                    state.errors_in_a_row = 0
                    continue
                if result.status == "failed":
                    state.failed += 1
                if result.shared:
                    if shared_counted:
                        continue
                    shared_counted = True
                state.errors_in_a_row += 1
                state.last_error = result.detail
            if state.errors_in_a_row >= self.policy.max_errors_in_a_row and self._paused is None:
                self._paused = state.last_error
                self._stop.set()

    def progress(self) -> Progress:
        shared = self._shared
        with shared.lock:
            return Progress(
                total=self._total,
                sent=self._start_sent + shared.sent,
                failed=self._start_failed + shared.failed,
                deferred=len(shared.retries) + shared.parked,
            )


def _verified(transports: Callable[[], Transport]) -> float | None:
    """Check that a transport works before it takes over a send (TransportError or Unreachable
    if not); the send rate its provider allows, when it said."""
    opened = transports()
    try:
        opened.verify()
        return opened.send_rate
    finally:
        opened.close()


def _carrier(transports: Callable[[], Transport]) -> str | None:
    """What the ledger records as the transport: its DSN (password masked), when it has one."""
    dsn = getattr(transports, "dsn", None)
    return str(dsn) if dsn is not None else None


def _by_content(
    rows: list[LedgerRecipient], messages: list[OutgoingMessage]
) -> list[list[tuple[LedgerRecipient, OutgoingMessage]]]:
    """The batch split by edition (messages sharing their content), each in file order: an
    ESP's request carries one subject and body for all its readers."""
    parts: dict[int, list[tuple[LedgerRecipient, OutgoingMessage]]] = {}
    for row, message in zip(rows, messages, strict=True):
        parts.setdefault(id(message.content), []).append((row, message))
    return list(parts.values())


@dataclass(frozen=True)
class DryRun:
    messages: int
    size: int  # bytes of all messages together
    seconds: float


def dry_run(factory: Factory, audience: Iterable[Recipient]) -> DryRun:
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
