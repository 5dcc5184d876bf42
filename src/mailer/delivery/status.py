"""``mailer status``: where a send stands, from the ledger, and what readers answered, from the
list's store; both opened read-only, so asking never creates or changes a file."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from mailer.audience.events import ESP_SOURCE
from mailer.audience.project_store import read_store_for
from mailer.audience.store import SuppressionStore
from mailer.compose.editions import load_default, normalise_tag
from mailer.console import Console, count
from mailer.delivery.ledger import Counts, Ledger
from mailer.errors import UsageError, WriteFailed
from mailer.spreadsheets import SafeWriter

COMPLAINT_LIMIT = 0.001  # complaints per message sent before status warns
BOUNCE_LIMIT = 0.02  # hard bounces per message sent before status warns
# Below this many messages sent, one complaint is already over the limits: no rate is judged.
RATES_FROM = 100
# Seconds by which an ESP's clock may be behind the ledger's: an entry of its suppression lists
# this long before an issue was recorded sent to the address may still be about that issue.
ESP_CLOCKS = 600
FEEDBACK = {  # event kind -> how status names one, and more
    "unsubscribed": ("unsubscribed", "unsubscribed"), "bounced": ("hard bounce", "hard bounces"),
    "complained": ("complaint", "complaints"), "soft_bounce": ("soft bounce", "soft bounces"),
}

REPORT_COLUMNS = (
    "email", "name", "state", "attempts", "message_id", "provider_id", "reason",
    "next_attempt_at", "updated_at",
)


@dataclass(frozen=True)
class Failure:
    email: str
    reason: str


@dataclass(frozen=True)
class StatusReport:
    issue_id: str
    ledger: Path
    counts: Counts
    failures: list[Failure]  # the first ``limit``
    more_failures: int  # failures not listed
    feedback: dict[str, int] = field(default_factory=dict)  # event kind -> addresses
    editions: dict[str, Counts] = field(default_factory=dict)  # language tag -> its counts
    # language tag -> event kind -> addresses, for the readers the ledger has in that edition
    edition_feedback: dict[str, dict[str, int]] = field(default_factory=dict)
    segment: str | None = None  # the issue's audience: at its last fill; None: every reader
    left_out: dict[str, int] = field(default_factory=dict)  # edition -> readers it left out

    def left_out_of(self, tag: str) -> int:
        """The readers the segment left out of the edition ``tag``."""
        return self.left_out.get(normalise_tag(tag), 0)
    # the git commits its rows were sent from ([send] require = "committed"), first first
    commits: list[str] = field(default_factory=list)
    # the transport (DSN, password masked; "" before the ledger kept it) -> rows it sent
    transports: dict[str, int] = field(default_factory=dict)
    # where the readers came from: "csv" (the subscribers file), "signup" (sign-ups not in it)
    sources: dict[str, int] = field(default_factory=dict)

    def rate(self, kind: str) -> float:
        """Addresses that gave feedback of ``kind`` on this issue, per message sent."""
        return self.feedback.get(kind, 0) / self.counts.sent if self.counts.sent else 0.0

    def warnings(self) -> list[str]:
        """Rates that put the organisation's mail at risk with the big mailbox providers
        (judged only from :data:`RATES_FROM` messages sent)."""
        sent = self.counts.sent
        if sent < RATES_FROM:
            return []
        found = []
        if self.rate("complained") > COMPLAINT_LIMIT:
            found.append(
                f"complaints are at {self.rate('complained'):.2%} of the {sent:,} messages "
                f"sent, over {COMPLAINT_LIMIT:.1%}: Gmail and Yahoo start junking a sender's "
                "mail near 0.3%; check that every reader asked for this newsletter"
            )
        if self.rate("bounced") > BOUNCE_LIMIT:
            found.append(
                f"hard bounces are at {self.rate('bounced'):.2%} of the {sent:,} messages sent, "
                f"over {BOUNCE_LIMIT:.0%}: the list holds dead addresses; clean it before the "
                "next send"
            )
        return found

    def as_dict(self) -> dict[str, object]:
        return {
            "issue": self.issue_id,
            "ledger": str(self.ledger),
            "commits": self.commits,
            "counts": _counts_dict(self.counts),
            "editions": {tag: _counts_dict(counts) for tag, counts in self.editions.items()},
            "sent_by_transport": self.transports,
            "sources": self.sources,
            "failures": [{"email": f.email, "reason": f.reason} for f in self.failures],
            "more_failures": self.more_failures,
            "feedback": {
                kind: {"addresses": self.feedback.get(kind, 0), "rate": self.rate(kind),
                       "of_sent": self.counts.sent}
                for kind in FEEDBACK
            },
            "feedback_by_edition": {
                tag: {kind: tally.get(kind, 0) for kind in FEEDBACK}
                for tag, tally in self.edition_feedback.items()
            },
            "segment": None if self.segment is None else {
                "audience": self.segment,
                "left_out": sum(self.left_out.values()),
                "left_out_by_edition": {tag: self.left_out_of(tag) for tag in self.editions},
            },
            "warnings": self.warnings(),
        }


def _counts_dict(counts: Counts) -> dict[str, int]:
    return {
        "total": counts.total, "queued": counts.queued, "sending": counts.sending,
        "sent": counts.sent, "deferred": counts.deferred, "failed": counts.failed,
    }


def _counts_line(c: Counts) -> str:
    return (
        f"{c.sent:,} sent, {c.failed:,} failed, {c.deferred:,} deferred, {c.queued:,} queued, "
        f"{c.sending:,} in flight, of {c.total:,}"
    )


def _feedback_line(tally: dict[str, int], sent: int) -> str:
    """``3 unsubscribed (0.3% of 1,000 sent), ...``: each rate says what it divides by."""
    def part(kind: str) -> str:
        count = tally.get(kind, 0)
        rate = f"{count / sent:.1%} of {sent:,} sent" if sent else "none sent"
        return f"{count:,} {FEEDBACK[kind][count != 1]} ({rate})"

    return ", ".join(part(kind) for kind in FEEDBACK)


def show_status(
    issue: Path, console: Console, *, settings: Path | None = None, ledger: Path | None = None,
    as_json: bool = False, csv_path: Path | None = None,
) -> None:
    """``mailer status``: counts, failures with reasons, and optionally a CSV of every row."""
    loaded = load_default(issue, settings)
    path = ledger.resolve() if ledger else loaded.settings.resolve(
        loaded.settings.settings.send.ledger
    )
    report = status(path, loaded.issue.id, loaded.issue.language)
    store = read_store_for(loaded.settings)
    if store is not None:
        with store:
            feedback = {*store.feedback(loaded.issue.id), *esp_feedback(store, path, report)}
            report = with_feedback(report, sorted(feedback), loaded.issue.language)
    written = write_report(path, loaded.issue.id, csv_path) if csv_path else None
    if as_json:
        console.say(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        console.say(f"{report.issue_id}: {_counts_line(report.counts)} ({report.ledger})")
        if report.segment is not None:
            left_out = sum(report.left_out.values())
            console.say(f"  segment: {report.segment}: {count(left_out, 'reader')} left out")
        if report.commits:
            console.say(f"  sent from commit {', '.join(report.commits)}")
        if len(report.transports) > 1:  # the send failed over
            for dsn, sent in report.transports.items():
                console.say(f"  sent through {dsn or 'a transport not recorded'}: {sent:,}")
        if report.sources.get("signup"):
            console.say(f"  readers: {report.sources.get('csv', 0):,} from the CSV, "
                        f"{report.sources['signup']:,} signed up")
        if len(report.editions) > 1:
            for tag, counts in report.editions.items():
                line = _counts_line(counts)
                if report.left_out_of(tag):
                    line += f" ({report.left_out_of(tag):,} left out by the segment)"
                console.say(f"  {tag} edition: {line}")
                console.say("    feedback: " + _feedback_line(
                    report.edition_feedback.get(tag, {}), counts.sent))
        for failure in report.failures:
            console.say(f"  failed {failure.email}: {failure.reason}")
        if report.more_failures:
            console.say(f"  ... and {report.more_failures:,} more (--csv PATH lists them all)")
        console.say("  feedback: " + _feedback_line(report.feedback, report.counts.sent))
        for warning in report.warnings():
            console.warn(warning)
    if written is not None:
        console.say(f"Wrote {written:,} rows to {csv_path}", err=as_json)


def status(
    ledger_path: Path, issue_id: str, default_edition: str = "en", limit: int = 20
) -> StatusReport:
    """Counts by state (in all, and for each edition: the ledger's default edition is
    ``default_edition``) and the first ``limit`` failures with their reasons."""
    if not ledger_path.exists():
        raise UsageError(f"no send ledger at {ledger_path}: this issue has not been sent yet")
    with Ledger(ledger_path, read_only=True, outcomes=True) as ledger:
        counts = ledger.counts(issue_id)
        by_edition = ledger.counts_by_edition(issue_id)
        segment, left_out = ledger.left_out(issue_id) or (None, {})
        commits = ledger.commits(issue_id)
        transports = {dsn or "": sent for dsn, sent in ledger.sent_by_transport(issue_id).items()}
        sources = {source or "csv": n for source, n in ledger.readers_by_source(issue_id).items()}
        failures: list[Failure] = []
        for row in ledger.rows(issue_id, ("failed",)):
            if len(failures) == limit:
                break
            failures.append(Failure(row.email, row.reason))
    editions = {default_edition: by_edition.pop(None, Counts())}
    editions.update(sorted((tag, c) for tag, c in by_edition.items() if tag is not None))
    return StatusReport(
        issue_id, ledger_path, counts, failures, max(0, counts.failed - len(failures)),
        editions={tag: c for tag, c in editions.items() if c.total},
        segment=segment, left_out=left_out, commits=commits, transports=transports,
        sources=sources,
    )


def esp_feedback(
    store: SuppressionStore, ledger_path: Path, report: StatusReport
) -> list[tuple[str, str]]:
    """(kind, address) of the entries pulled from the ESP's suppression lists (which name no
    issue) that are about this issue: the last issue the ledger sent the address before the
    ESP recorded the entry."""
    entries = store.issueless(ESP_SOURCE)
    if not entries or not report.counts.sent:
        return []
    with Ledger(ledger_path, read_only=True, outcomes=True) as ledger:
        sent = ledger.sent_times(address for _, address, _ in entries)
    found = []
    for kind, address, when in entries:
        before = [(at, issue) for issue, at in sent.get(address, ()) if at <= when + ESP_CLOCKS]
        if before and max(before)[1] == report.issue_id:
            found.append((kind, address))
    return found


def with_feedback(
    report: StatusReport, feedback: Iterable[tuple[str, str]], default_edition: str
) -> StatusReport:
    """``report`` with the issue's feedback, (kind, address) pairs, counted in all and per
    edition (the edition the ledger queued each address for)."""
    pairs = list(feedback)
    tally = Counter(kind for kind, _ in pairs)
    per_edition: dict[str, dict[str, int]] = {}
    if len(report.editions) > 1:
        with Ledger(report.ledger, read_only=True, outcomes=True) as ledger:
            editions = ledger.editions_of(report.issue_id, (address for _, address in pairs))
        for kind, address in pairs:
            if address in editions:
                tag = editions[address] or default_edition
                counts = per_edition.setdefault(tag, {})
                counts[kind] = counts.get(kind, 0) + 1
    return replace(report, feedback=dict(tally), edition_feedback=per_edition)


def write_report(ledger_path: Path, issue_id: str, out: Path) -> int:
    """One CSV line per recipient (streamed from the ledger), no cell of which a spreadsheet
    runs as a formula; returns the number of rows."""
    written = 0
    with Ledger(ledger_path, read_only=True, outcomes=True) as ledger:
        try:
            file = open(out, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise WriteFailed(f"cannot write {out}: {exc.strerror}") from None
        with file:
            writer = SafeWriter(file)
            writer.writerow(REPORT_COLUMNS)
            for row in ledger.rows(issue_id):
                writer.writerow(
                    _timestamp(value) if column.endswith("_at") else value
                    for column, value in ((c, getattr(row, c)) for c in REPORT_COLUMNS)
                )
                written += 1
    return written


def _timestamp(value: float | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
