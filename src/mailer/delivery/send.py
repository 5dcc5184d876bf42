"""``mailer send``: from an issue file to every reader's inbox, once.

The order is the promise: settings, the transport and every secret the send needs are checked
before anything connects or is built, the issue is rendered once, the checks may refuse it,
and only then is the ledger filled and the campaign run. A test copy (``--to``) and a dry run
stop before the ledger is touched.

A real send (not a test copy, not a dry run) is also held to the issue's ``send_at``
(:mod:`mailer.delivery.schedule`: before it, nothing is sent, or with ``--wait`` the send waits
once everything is checked) and, with ``[send] require = "committed"``, to git's last commit
(:mod:`mailer.delivery.reviewed`), which each ledger row then records.

The checks are a later stage than delivery (they read what delivery builds), so they are
handed in as a ``gate``: a function that raises when the issue must not go out.

When the ESP answers unsubscribes (``[list] unsubscribe = "esp"``), its suppression lists are
pulled into the store before the audience is read (a dry run too); a pull that fails stops the
send: a reader who unsubscribed there must never get the next issue.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from mailer.audience.audience import EVERYONE, Audience, Segment
from mailer.audience.project_store import store_for
from mailer.audience.store import SuppressionStore
from mailer.audience.subscribers import Subscriber, SubscriberReader, normalise_address
from mailer.compose.editions import load_editions
from mailer.console import Console, command_line, count, plural
from mailer.credentials import Needed, require
from mailer.delivery.campaign import Campaign, Policy, Summary, dry_run, send_test
from mailer.delivery.editions import EditionFactory
from mailer.delivery.ledger import FillResult, Ledger
from mailer.delivery.prepare import Prepared, PreparedEditions, prepare_editions, signs_links
from mailer.delivery.reviewed import committed
from mailer.delivery.schedule import Clock, SystemClock, scheduled, wait_until
from mailer.delivery.transports import TransportFactory, parse_transport
from mailer.delivery.transports.base import SIGNING
from mailer.errors import (
    DeliveryError,
    Interrupted,
    RecipientsFailed,
    TransportError,
    Unreachable,
    UsageError,
)
from mailer.settings import ESP_SCHEMES, LoadedSettings

Gate = Callable[[Prepared], None]  # raises (ChecksFailed) when the issue must not be sent
STALE_PULL = 86400  # seconds: an older pull of suppressions makes a send warn


@dataclass(frozen=True)
class SendRequest:
    """What ``mailer send`` was asked to do; None means "as mailer.toml says"."""

    issue: Path
    settings: Path | None = None
    subscribers: Path | None = None
    transport: str | None = None
    ledger: Path | None = None
    concurrency: int | None = None
    rate: float | None = None
    test_addresses: tuple[str, ...] = ()  # --to: a [TEST] copy to each, outside the ledger
    dry_run: bool = False
    assume_yes: bool = False
    strict: bool = False  # a bad CSV row stops the send instead of being skipped
    edition: str | None = None  # --edition: only this edition, to its readers
    force: bool = False  # --force: the checks' errors do not stop it (the caller's gate says)
    wait: bool = False  # --wait: before the issue's send_at, wait for it instead of stopping

    def again(self) -> str:
        """This send as a command line that runs it again, and so resumes it: every option it
        was given, and ``--yes``. Printed as it is, it sends the same list through the same
        transport with the same ledger."""
        return command_line(
            "send", self.issue, subscribers=self.subscribers, transport=self.transport,
            concurrency=self.concurrency, rate=self.rate, ledger=self.ledger, strict=self.strict,
            force=self.force, edition=self.edition, settings=self.settings, yes=True,
        )

    def status(self) -> str:
        """``mailer status`` of this send's issue, with its ledger and settings."""
        return command_line("status", self.issue, ledger=self.ledger, settings=self.settings)


@dataclass(frozen=True)
class SendPlan:
    """Where a send reads and writes, with ``mailer.toml`` < ``MAILER_*`` < flags applied."""

    issue_id: str
    settings: Path  # the mailer.toml it reads
    transport: TransportFactory
    subscribers: Path
    ledger: Path
    policy: Policy
    strict: bool = False
    serve_url: str | None = None  # [list] serve_url: where unsubscribes are answered
    commit: str | None = None  # [send] require = "committed": the commit the files are from
    # The transports to fail over to, in order, when ``transport`` refuses or stays unreachable.
    failover: tuple[TransportFactory, ...] = ()
    allowed_rate: float | None = None  # the send rate the provider allows (read when verified)
    # Which readers this send is for, by their language (a send narrowed to some editions).
    reads: Callable[[str], bool] = lambda language: True
    segment: Segment = EVERYONE  # and by their topics (the issue's audience:)

    def audience(self, store: SuppressionStore) -> Audience:
        """Subscribers minus suppressed addresses, read afresh on each iteration; a reader the
        transport cannot carry is a wrong row."""
        reader = SubscriberReader(
            self.subscribers, strict=self.strict, smtputf8=self.transport.smtputf8
        )
        return Audience(reader, store, wanted=self.reads, segment=self.segment)


def plan_send(
    settings: LoadedSettings, issue_id: str, request: SendRequest,
    reads: Callable[[str], bool] = lambda language: True,
) -> SendPlan:
    """Resolve the send's settings; paths in ``mailer.toml`` are relative to its folder.

    ``reads`` says, from a reader's language, whether they get one of the editions sent.
    """
    send = settings.settings.send
    first, *then = [request.transport] if request.transport else send.transports
    return SendPlan(
        issue_id=issue_id,
        settings=settings.path,
        transport=parse_transport(first, settings.base_dir),
        failover=tuple(parse_transport(dsn, settings.base_dir) for dsn in then),
        subscribers=(
            request.subscribers.resolve() if request.subscribers
            else settings.resolve(send.subscribers)
        ),
        ledger=request.ledger.resolve() if request.ledger else settings.resolve(send.ledger),
        policy=Policy(
            concurrency=request.concurrency or send.concurrency,
            rate=request.rate or send.rate,
            max_errors_in_a_row=send.max_errors_in_a_row,
            retry_for=send.retry_for,
            failover_after=send.failover_after,
        ),
        strict=request.strict,
        serve_url=settings.settings.list.serve_url,
        reads=reads,
    )


def send_secrets(settings: LoadedSettings, *transports: TransportFactory) -> list[Needed]:
    """Every secret a send through ``transports`` (the first, and those it fails over to)
    needs: each login, and the unsubscribe links' key when the messages reach readers with
    links of ours. The one list a send requires before it connects, and ``mailer doctor``
    reports."""
    return list(dict.fromkeys(
        need for transport in transports for need in transport.secrets
        if signs_links(settings.settings) or need.variable != SIGNING.variable
    ))


def send_issue(
    request: SendRequest, console: Console, *, gate: Gate | None = None,
    clock: Clock | None = None,
) -> None:
    """Send the issue to every subscriber once (or the test copies, or a dry run).

    Returns when every reader was reached, or at once, having sent nothing, before the issue's
    ``send_at`` (read from ``clock``; with ``wait``, it waits for it, and sends). Raises
    RecipientsFailed when some failed for good, DeliveryError when some are still to be sent
    (deferred, or paused after errors), and Interrupted after Ctrl-C; in the last two, running
    the same request again continues.
    """
    if request.test_addresses and request.dry_run:
        raise UsageError("--to sends test copies and --dry-run sends nothing: choose one")
    if request.wait and (request.test_addresses or request.dry_run or not request.assume_yes):
        raise UsageError(
            "--wait waits for the issue's send_at and then sends with nobody there to answer: "
            "use it with --yes, and without --to or --dry-run (which never wait)"
        )
    clock = clock or SystemClock()
    editions = load_editions(request.issue, request.settings, edition=request.edition)
    settings = editions.default.settings
    plan = plan_send(settings, editions.issue_id, request)
    esp = settings.settings.list.unsubscribe_mode == "esp"
    if esp and plan.transport.dsn.scheme not in ESP_SCHEMES:
        raise UsageError(
            f'[list] unsubscribe = "esp": readers unsubscribe with the ESP\'s own link, which '
            f"{plan.transport} cannot give; send through the ESP ({', '.join(ESP_SCHEMES)})"
        )
    # Secrets first: every one missing, named at once, before any connection or DNS lookup.
    # A dry run too: it signs the links as the send will, and predicts what the send needs.
    require(send_secrets(settings, plan.transport, *plan.failover))
    send_at = editions.default.issue.send_at
    real = not (request.test_addresses or request.dry_run)  # test copies are never held back
    if real and settings.settings.send.require == "committed":
        plan = replace(plan, commit=committed(editions))
    if real and send_at is not None and not request.wait:
        when = scheduled(send_at, clock)
        if when is not None:
            console.say(f"{plan.issue_id}: {when}; nothing sent.")
            console.say("Run the same command at or after that time to send it (a scheduled job "
                        "may run it every few minutes), or add --wait to wait for it.")
            return
    plan = _usable(plan, console, connect=not request.dry_run)
    prepared = prepare_editions(editions, real_send=plan.transport.reaches_readers)
    if gate is not None:
        for edition in prepared.each:
            gate(edition)
    if request.test_addresses:
        _send_test_copies(plan, prepared, request.test_addresses, console)
        return
    plan = replace(plan, reads=prepared.sends_to, segment=Segment.of_issue(editions.default.issue))
    if real and send_at is not None:  # --wait: everything was checked; now the time
        wait_until(send_at, clock, console)
    with store_for(settings) as store:
        if esp:
            _pull_from_esp(plan.transport, store, console)
        if request.dry_run:
            _dry_run(plan, store, prepared, console)
        elif request.assume_yes or _ask(plan, store, request, prepared, console):
            _send(plan, store, prepared, request, console)


def _pull_from_esp(
    transport: TransportFactory, store: SuppressionStore, console: Console
) -> None:
    """Copy the ESP's suppression lists into ``store``, every page; Unreachable or
    TransportError (nothing sent) when it cannot be read."""
    from mailer.delivery.transports.suppressions import pull_esp

    console.say(f"Pulled {pull_esp(transport, store, answering=True).counts()}")


def _verify(transport: TransportFactory, *, connect: bool) -> float | None:
    """Stop before anything is built or queued when the transport cannot work at all.

    Opening it checks the DSN; ``connect`` also logs in (SMTP) and leaves. Returns the send
    rate the provider allows the account, when it said (Amazon SES).
    """
    opened = transport()
    try:
        if connect:
            opened.verify()
        return opened.send_rate
    finally:
        opened.close()


def _usable(plan: SendPlan, console: Console, *, connect: bool) -> SendPlan:
    """The plan starting with the first of its transports that works (:func:`_verify`), with
    the send rate its provider allows; a transport that refuses the account or cannot be
    reached is left, with a warning, while another follows it."""
    while True:
        try:
            return replace(plan, allowed_rate=_verify(plan.transport, connect=connect))
        except (TransportError, Unreachable) as exc:
            if not plan.failover:
                raise
            console.warn(f"{plan.transport}: {exc}; failing over to {plan.failover[0]}")
            plan = replace(plan, transport=plan.failover[0], failover=plan.failover[1:])


def _send_test_copies(
    plan: SendPlan, prepared: PreparedEditions, addresses: Sequence[str], console: Console
) -> None:
    """``--to``: a ``[TEST]`` copy of each edition to each address, through the plan's
    transport (a translator sees their edition as readers will)."""
    try:
        readers = [
            Subscriber(normalise_address(address, smtputf8=plan.transport.smtputf8))
            for address in addresses
        ]
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    transport = plan.transport()
    try:
        results = [
            (edition.loaded.issue.language, result)
            for edition in prepared.each
            for result in send_test(edition.factory, transport, readers)
        ]
    finally:
        transport.close()
    several = len(prepared.each) > 1
    for language, result in results:
        edition = f" ({language} edition)" if several else ""
        console.say(
            f"[TEST] {result.recipient}{edition}: {result.status} {result.detail}".rstrip()
        )
    failed = [result.recipient for _, result in results if not result.delivered]
    if failed:
        raise RecipientsFailed(
            f"the {plural(len(failed), 'test copy', 'test copies')} to {', '.join(failed)} "
            f"{plural(len(failed), 'was', 'were')} not delivered"
        )


def _dry_run(
    plan: SendPlan, store: SuppressionStore, prepared: PreparedEditions, console: Console
) -> None:
    found = _readers(plan, store, console)
    if found is None:
        return
    audience, readers = found
    tally: Counter[str] = Counter()
    built = dry_run(prepared.factory, _tallied(readers, prepared.factory, tally))
    _report_rows(audience, console)
    console.say(
        f"Dry run: built {count(built.messages, 'message')} ({built.size / 1e6:,.1f} MB) in "
        f"{built.seconds:.1f} s; nothing was sent."
    )
    console.say(_audience_line(audience, tally))
    if not plan.segment.everyone:
        console.say(_segment_line(audience, built.messages))
    if prepared.editions.several:
        console.say(f"Editions:  {_editions_line(tally, audience, prepared.factory)}")


def _tallied(
    readers: Iterator[Subscriber], factory: EditionFactory, tally: Counter[str]
) -> Iterator[Subscriber]:
    """``readers``, counting each one's edition in ``tally`` on the way."""
    for reader in readers:
        tally[factory.tag_for(reader)] += 1
        yield reader


def _editions_line(tally: Counter[str], audience: Audience, factory: EditionFactory) -> str:
    """``en 2, tr 6, ar 2`` in the editions' order, each with the readers the segment left out
    (and the readers of editions not sent this time)."""
    left_out = _left_out_by_edition(audience, factory)
    order = factory.tags
    parts = []
    for tag in sorted(tally.keys() | left_out.keys(), key=order.index):
        part = f"{tag} {tally[tag]:,}"
        if left_out[tag]:
            part += f" ({left_out[tag]:,} left out by the segment)"
        parts.append(part)
    line = ", ".join(parts)
    if audience.elsewhere:
        line += f" ({count(audience.elsewhere, 'reader')} of other editions not sent this time)"
    return line


def _left_out_by_edition(audience: Audience, factory: EditionFactory) -> Counter[str]:
    """The readers the segment left out, by the tag of the edition they would have got."""
    left_out: Counter[str] = Counter()
    for language, readers in audience.outside_languages.items():
        left_out[factory.tag_for_language(language)] += readers
    return left_out


def _segment_line(audience: Audience, reached: int) -> str:
    """``Segment:   topics partners: 3 readers, 22 left out``."""
    return (
        f"Segment:   {audience.segment}: {count(reached, 'reader')}, "
        f"{audience.outside:,} left out"
    )


def _ask(
    plan: SendPlan, store: SuppressionStore, request: SendRequest, prepared: PreparedEditions,
    console: Console,
) -> bool:
    """What is about to happen, and a yes from the person (or --yes) before it does.

    False when there is nobody to send to (and nothing to ask).
    """
    found = _readers(plan, store, console)
    if found is None:
        return False
    audience, readers = found
    tally = Counter(prepared.factory.tag_for(reader) for reader in readers)
    console.say(_what_is_sent(plan, request.issue, audience, tally, prepared))
    console.confirm(
        "Send now? Anyone already sent to is skipped",
        otherwise=f"add --yes to send: {request.again()}",
    )
    return True


def _what_is_sent(
    plan: SendPlan, issue: Path, audience: Audience, tally: Counter[str],
    prepared: PreparedEditions,
) -> str:
    """The issue, its readers (per edition), the transport and the ledger: what the person is
    asked about, and what a send with --yes logs (cron, CI) before it starts."""
    editions = segment = ""
    if prepared.editions.several:
        editions = f"Editions:  {_editions_line(tally, audience, prepared.factory)}\n"
    if not audience.segment.everyone:
        segment = f"{_segment_line(audience, sum(tally.values()))}\n"
    return (
        f"Issue:     {plan.issue_id} ({issue})\n"
        f"{_audience_line(audience, tally)}\n"
        f"{segment}"
        f"{editions}"
        f"Transport: {plan.transport}{_then(plan.failover)}\nLedger:    {plan.ledger}"
        + (f"\nCommit:    {plan.commit}" if plan.commit else "")
    )


def _then(failover: Sequence[TransportFactory]) -> str:
    """`` (then X, then Y)``: the transports a send fails over to, or nothing."""
    return f" (then {', then '.join(map(str, failover))})" if failover else ""


def _audience_line(audience: Audience, tally: Counter[str]) -> str:
    """``Audience:  7 subscribers (5 from the CSV, 2 signed up; 1 suppressed, ...)``."""
    return (
        f"Audience:  {count(sum(tally.values()), 'subscriber')} ({audience.sources()}; "
        f"{audience.suppressed:,} suppressed, {audience.unsubscribed:,} unsubscribed, "
        f"{count(audience.skipped, 'row')} skipped)"
    )


def _readers(
    plan: SendPlan, store: SuppressionStore, console: Console
) -> tuple[Audience, Iterator[Subscriber]] | None:
    """The plan's audience and its readers, or None when it has nobody to send to.

    Only the first reader is looked for here, so the subscriber file is still read once; the
    audience's counts are complete when the readers are.
    """
    audience = plan.audience(store)
    readers = iter(audience)
    first = next(readers, None)
    if first is None:
        _report_rows(audience, console)
        _nobody_to_send_to(plan.subscribers, audience, console)
        return None
    return audience, itertools.chain((first,), readers)


def _nobody_to_send_to(path: Path, audience: Audience, console: Console) -> None:
    """Say why ``path`` gives nobody to send to; UsageError if the file cannot be the list.

    A file without a single valid row is the wrong file, or a broken export (exit 2). A list
    whose readers all unsubscribed or bounced is a correct list, and sending nothing to it is
    the correct, finished send: it is not an error (exit 0), but a comms officer must not
    mistake it for a send that went out, so it is a warning that says nothing was sent.
    """
    valid = audience.suppressed + audience.unsubscribed + audience.duplicates
    if audience.outside:
        console.warn(
            f"{path}: no one to send to: no reader is in the issue's audience "
            f"({audience.segment}; {count(audience.outside, 'reader')} left out); nothing was "
            "sent"
        )
        return
    if audience.elsewhere:
        console.warn(
            f"{path}: no one to send to: no reader of this edition (the others have "
            f"{count(audience.elsewhere, 'reader')}); nothing was sent"
        )
        return
    rows = valid + audience.skipped
    if not rows:
        raise UsageError(f"{path}: no one to send to: the file has no rows below its header line")
    if not valid:
        raise UsageError(
            f"{path}: no one to send to: 0 valid rows of {rows:,} ({audience.skipped:,} skipped, "
            "see the warnings above)"
        )
    console.warn(
        f"{path}: no one to send to: every reader in it has unsubscribed or is on the "
        f"suppression list ({audience.unsubscribed:,} unsubscribed, {audience.suppressed:,} "
        f"suppressed, {count(audience.skipped, 'row')} skipped); nothing was sent"
    )


@contextlib.contextmanager
def _started(
    plan: SendPlan, store: SuppressionStore, factory: EditionFactory,
    audience: Audience, readers: Iterator[Subscriber],
) -> Iterator[tuple[Campaign, FillResult]]:
    """Lock the plan's ledger for this process, queue the readers in it (and what the segment
    left out, for ``mailer status``), yield the runner."""
    with Ledger(plan.ledger) as book:
        book.lock_for_sending()
        runner = Campaign(
            factory, book, plan.transport, plan.policy,
            suppression=store, failover=plan.failover, allowed_rate=plan.allowed_rate,
        )
        filled = runner.fill(readers, commit=plan.commit)
        segment = None if audience.segment.everyone else str(audience.segment)
        left_out = _left_out_by_edition(audience, factory)
        book.record_left_out(plan.issue_id, segment, {tag: left_out[tag] for tag in factory.tags})
        yield runner, filled


def _send(
    plan: SendPlan, store: SuppressionStore, prepared: PreparedEditions, request: SendRequest,
    console: Console,
) -> None:
    """Queue the readers in the ledger and send; with --yes, first say what is sent as the
    question would have (the readers are counted while they are queued, not read twice)."""
    found = _readers(plan, store, console)
    if found is None:
        return
    audience, readers = found
    stale = _stale_pull(plan, store)
    if stale:
        console.warn(stale)
    tally: Counter[str] = Counter()
    queued = _tallied(readers, prepared.factory, tally)
    with _started(plan, store, prepared.factory, audience, queued) as (runner, filled):
        _report_rows(audience, console)
        if request.assume_yes:
            console.say(_what_is_sent(plan, request.issue, audience, tally, prepared))
        if filled.resumed:
            console.say(
                f"Resuming: {count(filled.resumed, 'message')} "
                f"{plural(filled.resumed, 'was', 'were')} in flight; sending again."
            )
        if filled.left:
            console.warn(
                f"{count(filled.left, 'reader')} in the ledger {plural(filled.left, 'is', 'are')} "
                f"not in this subscriber list; {plural(filled.left, 'it was', 'they were')} not "
                "sent this time"
            )
        try:
            summary = _run(runner, console)
        except DeliveryError:  # paused after errors in a row: the same command resumes
            console.say(f"To resume, run: {request.again()}")
            raise
    for left in summary.failovers:
        console.warn(f"Failed over from {left}")
    counts = summary.counts
    # Held readers (not in this list, or suppressed while it ran) are not this run's to wait for.
    waiting = counts.pending - filled.left - summary.withheld
    console.say(
        f"{'Interrupted' if summary.interrupted else 'Done'}: sent {summary.sent:,} now "
        f"({summary.per_second:,.0f}/s); in all {counts.sent:,} sent, {counts.failed:,} failed, "
        f"{waiting:,} waiting, of {counts.total:,}."
    )
    if summary.withheld:
        console.say(
            f"Held back: {count(summary.withheld, 'reader')} "
            f"{plural(summary.withheld, 'was', 'were')} suppressed while the send ran "
            "(an unsubscribe, a complaint or a bounce); nothing more went to them."
        )
    if plan.transport.outbox_path:
        console.say(f"Outbox: {plan.transport.outbox_path}")
    console.say(f"Ledger: {plan.ledger}")
    if counts.failed:
        console.say(f"See the failures with: {request.status()}")
    if summary.interrupted or waiting:
        console.say(f"To resume, run: {request.again()}")
    if summary.interrupted:
        raise Interrupted("interrupted before the send was finished")
    if waiting:
        raise DeliveryError(_unfinished(waiting, summary))
    if counts.failed:
        raise RecipientsFailed(f"{count(counts.failed, 'recipient')} failed permanently")


def _stale_pull(plan: SendPlan, store: SuppressionStore) -> str | None:
    """With a server answering unsubscribes, this store may lack the latest of them."""
    if not plan.serve_url:
        return None
    last = store.last_pull()
    if last is not None and time.time() - last < STALE_PULL:
        return None
    when = "never" if last is None else f"{count(round((time.time() - last) / 86400), 'day')} ago"
    # The settings named even when send found them by itself: pull looks from the current folder.
    pull = command_line("suppressions", "pull", settings=plan.settings)
    return (f"[list] serve_url is set, and suppressions were last pulled from it {when}: run "
            f"{pull} first, or readers who unsubscribed there get this issue")


def _unfinished(waiting: int, summary: Summary) -> str:
    """Why the send stopped short, and when trying again makes sense."""
    text = (
        f"the send is not finished: {count(waiting, 'message')} {plural(waiting, 'is', 'are')} "
        "deferred"
    )
    if summary.last_deferral:
        text += f" (the last answer: {summary.last_deferral})"
    if summary.next_try is not None:
        due = datetime.fromtimestamp(summary.next_try).astimezone()
        text += (
            f"; the server asked to wait: {plural(waiting, 'it is', 'they are')} due again from "
            f"{due:%H:%M:%S %Z}"
        )
    return text


def _run(runner: Campaign, console: Console) -> Summary:
    start = runner.progress()
    with console.progress("Sending", start.total, start.done) as update:
        runner.on_progress = lambda progress: update(progress.done, progress.deferred)
        return runner.run()


def _report_rows(audience: Audience, console: Console) -> None:
    """Each skipped row and warning of the subscriber CSV, with a count of any not listed."""
    for row in audience.skipped_rows:
        console.warn(str(row))
    if audience.skipped > len(audience.skipped_rows):
        more = audience.skipped - len(audience.skipped_rows)
        console.warn(f"... and {count(more, 'more row')} skipped")
    for warning in audience.warnings:
        console.warn(warning)
    if audience.warning_count > len(audience.warnings):
        more = audience.warning_count - len(audience.warnings)
        console.warn(f"... and {count(more, 'more warning')}")
