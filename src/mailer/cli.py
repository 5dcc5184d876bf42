"""The ``mailer`` command: options in, library calls out, one place for error reporting."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailer.compose import scaffold
from mailer.delivery.prepare import load, prepare
from mailer.errors import MailerError, UsageError
from mailer.preview.server import LivePreview, serve, watch, write_preview

if TYPE_CHECKING:
    from mailer.audience.suppression import Audience
    from mailer.compose.issue import LoadedIssue
    from mailer.delivery.campaign import Campaign, Summary
    from mailer.delivery.campaign import Progress as SendProgress
    from mailer.delivery.prepare import Prepared
    from mailer.delivery.transports import TransportFactory

# What only one command needs (the checks, delivery, the progress bar) is imported inside that
# command: importing everything up front adds ~90 ms to every run, `mailer preview` included.

app = typer.Typer(
    name="mailer",
    help="Newsletter-as-code: write an issue in YAML, preview it, check it, send it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IssueArg = Annotated[
    Path, typer.Argument(help="The issue's YAML file, e.g. issues/2018-03-iom-turkey.yaml.")
]
SettingsOpt = Annotated[
    Path | None,
    typer.Option("--settings", help="mailer.toml to use (default: the nearest above the issue)."),
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """A user's mistake becomes one ``Error: ...`` line and its exit code, never a traceback."""
    try:
        yield
    except MailerError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


@app.command()
def preview(
    issue: IssueArg,
    out: Annotated[Path, typer.Option(help="Folder for index.html, message.txt, message.eml.")] = (
        Path("out")
    ),
    serve_preview: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve with live reload, or only write.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8025,
    open_browser: Annotated[bool, typer.Option("--open", help="Open a browser tab.")] = False,
    screenshots: Annotated[
        bool,
        typer.Option(
            "--screenshots",
            help="Also save PNGs at 375 and 600 px, light and dark (needs chromium).",
        ),
    ] = False,
    settings: SettingsOpt = None,
) -> None:
    """Write what subscribers will get and show it, reloading as you edit."""
    with user_errors():
        loaded = load(issue, settings)
        folder = out / loaded.issue.id
        files = write_preview(loaded, folder)
    typer.echo(f"Wrote {files.html}, {files.text} and {files.eml}")
    if screenshots:
        from mailer.preview.browser import take_screenshots

        with user_errors():
            shots = take_screenshots(files.html)
        typer.echo(f"Saved {', '.join(shot.name for shot in shots)} in {folder}")
    if not serve_preview:
        return
    live = LivePreview(issue, settings, folder)
    live.rebuild()
    with user_errors():
        server = serve(live, port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    stop = threading.Event()
    threading.Thread(target=watch, args=(live, stop), daemon=True).start()
    typer.echo(f"Previewing at {url} (reloads on every change; Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("Stopped.")
    finally:
        stop.set()
        server.server_close()


@app.command()
def check(
    issue: IssueArg,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Fetch nothing: links are checked for their form only."),
    ] = False,
    render: Annotated[
        bool | None,
        typer.Option(
            "--render/--no-render",
            help="Open the email in headless Chromium at 375 and 600 px "
            "(default: on, off with --offline).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the findings as JSON (for CI).")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Fetch every link again (no 10-minute cache).")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds to wait for a site's answer (connecting: at most 3)."),
    ] = 5.0,
    settings: SettingsOpt = None,
) -> None:
    """Find every problem before a subscriber does: links, images, size, accessibility,
    deliverability and rendering. Exit status: 0 clean, 1 errors, 2 the issue cannot be loaded.
    """
    from mailer.checks import CheckOptions, report, run_checks

    try:
        loaded = load(issue, settings)
        prepared = prepare(loaded, real_send=False)
    except MailerError as exc:
        report.write_unloadable(exc, issue, as_json=json_output)
        raise typer.Exit(2) from None
    options = CheckOptions(
        read_timeout=timeout,
        connect_timeout=min(timeout, CheckOptions.connect_timeout),
        cache_ttl=0 if no_cache else CheckOptions.cache_ttl,
    )
    findings = run_checks(loaded, prepared, offline=offline, render=render, options=options)
    report.write_report(findings, issue, as_json=json_output)
    raise typer.Exit(1 if any(finding.severity == "error" for finding in findings) else 0)


@app.command()
def new(
    path: Annotated[Path, typer.Argument(help="The new issue file, e.g. issues/2026-12.yaml.")],
) -> None:
    """Start a new issue from a commented template."""
    with user_errors():
        scaffold.create(path)
    typer.echo(f"Created {path}. Edit it, then run: mailer preview {path}")


@app.command()
def send(
    issue: IssueArg,
    subscribers: Annotated[
        Path | None, typer.Option(help="Subscribers CSV (default: [send] subscribers).")
    ] = None,
    transport: Annotated[
        str | None,
        typer.Option(help="Where to send, e.g. smtp://user@host:587 (default: [send] transport)."),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Send a [TEST] copy to this address only (repeatable)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build every message, send none.")] = (
        False
    ),
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Parallel connections.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="At most this many messages per second.")
    ] = None,
    ledger: Annotated[Path | None, typer.Option(help="Send ledger (SQLite).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send without asking.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if the offline checks find errors.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="A bad row in the CSV stops the send (default: skip).")
    ] = False,
    settings: SettingsOpt = None,
) -> None:
    """Send the issue to every subscriber exactly once; run it again to resume."""
    from mailer.delivery import campaign

    with user_errors():
        loaded = load(issue, settings)
        plan = campaign.plan_send(
            loaded.settings, loaded.issue.id, transport=transport, subscribers=subscribers,
            ledger=ledger, concurrency=concurrency, rate=rate, strict=strict,
        )
        if to and dry_run:
            raise UsageError("--to sends test copies and --dry-run sends nothing: choose one")
        real = not plan.transport.is_outbox and not dry_run
        _verify_transport(plan.transport, connect=not dry_run)
        prepared = prepare(loaded, real_send=real)
        factory = prepared.factory
        if not force:
            _refuse_on_check_errors(loaded, prepared, issue)
        if to:
            results = campaign.send_test_copies(plan, factory, to)
            for result in results:
                typer.echo(f"[TEST] {result.recipient}: {result.status} {result.detail}".rstrip())
            if not all(result.delivered for result in results):
                raise typer.Exit(1)
            return
        if dry_run:
            built = campaign.dry_run(factory, plan.audience())
            typer.echo(
                f"Dry run: built {built.messages:,} messages ({built.size / 1e6:,.1f} MB) in "
                f"{built.seconds:.1f} s; nothing was sent."
            )
            return
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError("not asking on a non-interactive input: add --yes to send")
            audience = plan.audience()
            count = sum(1 for _ in audience)
            typer.echo(
                f"Issue:     {plan.issue_id} ({issue})\n"
                f"Audience:  {count:,} subscribers ({audience.suppressed:,} suppressed, "
                f"{audience.unsubscribed:,} unsubscribed, {audience.skipped:,} rows skipped)\n"
                f"Transport: {plan.transport}\nLedger:    {plan.ledger}"
            )
            typer.confirm("Send now? Anyone already sent to is skipped", abort=True)
        with campaign.started(plan, factory) as (runner, filled, audience):
            _warn_about_rows(audience)
            if filled.resumed:
                typer.echo(f"Resuming: {filled.resumed:,} messages were in flight; sending again.")
            if filled.left:
                typer.echo(
                    f"Warning: {filled.left:,} readers in the ledger are not in this subscriber "
                    "list; they were not sent this time", err=True,
                )
            summary = _run_with_progress(runner)
    counts = summary.counts
    waiting = counts.pending - filled.left  # held readers are not this list's to wait for
    typer.echo(
        f"{'Interrupted' if summary.interrupted else 'Done'}: sent {summary.sent:,} now "
        f"({summary.per_second:,.0f}/s); in all {counts.sent:,} sent, {counts.failed:,} failed, "
        f"{waiting:,} waiting, of {counts.total:,}."
    )
    if plan.transport.outbox_path:
        typer.echo(f"Outbox: {plan.transport.outbox_path}")
    typer.echo(f"Ledger: {plan.ledger}")
    if counts.failed:
        typer.echo(f"See the failures with: mailer status {issue}")
    if summary.interrupted or waiting:
        typer.echo(f"To resume, run: mailer send {issue} --yes")
        raise typer.Exit(130 if summary.interrupted else 1)


def _verify_transport(transport: TransportFactory, *, connect: bool) -> None:
    """Stop before anything is built or queued when the transport cannot work at all.

    Opening it checks the DSN and the secrets; ``connect`` also logs in (SMTP) and leaves.
    """
    opened = transport()
    try:
        if connect:
            opened.verify()
    finally:
        opened.close()


def _warn_about_rows(audience: Audience) -> None:
    """Each skipped row and warning of the subscriber CSV, with a count of any not listed."""
    for row in audience.skipped_rows:
        typer.echo(f"Warning: {row}", err=True)
    if audience.skipped > len(audience.skipped_rows):
        typer.echo(f"Warning: ... and {audience.skipped - len(audience.skipped_rows):,} more "
                   "rows skipped", err=True)
    for warning in audience.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if audience.warning_count > len(audience.warnings):
        typer.echo(f"Warning: ... and {audience.warning_count - len(audience.warnings):,} more "
                   "warnings", err=True)


def _run_with_progress(runner: Campaign) -> Summary:
    """A progress bar with rate and ETA on a terminal; only the summary otherwise."""
    if not sys.stdout.isatty():
        return runner.run()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    start = runner.progress()
    began = time.monotonic()
    columns = (
        TextColumn("Sending"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("send", total=start.total, completed=start.done, rate="")

        def show(progress: SendProgress) -> None:
            per_second = (progress.done - start.done) / max(time.monotonic() - began, 1e-3)
            bar.update(task, completed=progress.done, rate=f"{per_second:,.0f}/s")

        runner.on_progress = show
        return runner.run()


def _refuse_on_check_errors(loaded: LoadedIssue, prepared: Prepared, issue: Path) -> None:
    """The offline checks run before every send; their errors stop it (``--force`` skips)."""
    from mailer.checks import offline_errors, report

    errors = offline_errors(loaded, prepared)
    if errors:
        report.write_report(errors, issue, as_json=False, stream=sys.stderr)
        raise MailerError(
            f"not sending: the offline checks found {len(errors)} error(s) in {issue} "
            "(fix them, or add --force to send anyway)"
        )


@app.command()
def status(
    issue: IssueArg,
    ledger: Annotated[Path | None, typer.Option(help="Send ledger (SQLite).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write one CSV line per recipient here.")
    ] = None,
    settings: SettingsOpt = None,
) -> None:
    """How far the issue's send is: counts, failures with reasons, a CSV report."""
    from mailer.delivery.status import status as ledger_status
    from mailer.delivery.status import write_report

    with user_errors():
        loaded = load(issue, settings)
        path = ledger.resolve() if ledger else loaded.settings.resolve(
            loaded.settings.settings.send.ledger
        )
        report = ledger_status(path, loaded.issue.id)
        written = write_report(path, loaded.issue.id, csv_path) if csv_path else None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        c = report.counts
        typer.echo(
            f"{report.issue_id}: {c.sent:,} sent, {c.failed:,} failed, {c.deferred:,} deferred, "
            f"{c.queued:,} queued, {c.sending:,} in flight, of {c.total:,} ({report.ledger})"
        )
        for failure in report.failures:
            typer.echo(f"  failed {failure.email}: {failure.reason}")
        if report.more_failures:
            typer.echo(f"  ... and {report.more_failures:,} more (--csv PATH lists them all)")
    if written is not None:
        typer.echo(f"Wrote {written:,} rows to {csv_path}", err=as_json)


def main() -> None:
    app()
