"""The ``mailer`` command: options in, one library call per command, one place for errors.

Every command body only turns its options into the arguments of one library function. Any
``MailerError`` it raises becomes one ``Error: ...`` line and the exit status of its kind (see
:mod:`mailer.errors`), in :func:`_reported`; anything else is a bug and keeps its traceback.

What only one command needs is imported inside that command, so ``mailer --help`` and
``mailer preview`` do not pay for the checks, the HTTP clients or the send machinery.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from mailer.console import Console
from mailer.errors import MailerError

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="mailer",
    help="Newsletter-as-code: write an issue in YAML, preview it, check it, send it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _reported(command: Callable[P, R]) -> Callable[P, R]:
    """The one place a library error becomes ``Error: ...`` and its exit status."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except MailerError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return run


IssueArg = Annotated[
    Path,
    typer.Argument(
        help="The issue's YAML file, e.g. issues/2018-03-iom-turkey.yaml.", metavar="ISSUE"
    ),
]
SettingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--settings", help="mailer.toml to use (default: the nearest above the issue).",
        metavar="PATH",
    ),
]


@app.command()
@_reported
def preview(
    issue: IssueArg,
    out: Annotated[
        Path,
        typer.Option(help="Folder for index.html, message.txt, message.eml.", metavar="FOLDER"),
    ] = Path("out"),
    serve_preview: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve with live reload, or only write.")
    ] = True,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).", metavar="PORT")
    ] = 8025,
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
    from mailer.preview import preview_issue

    preview_issue(
        issue, Console(), settings=settings, out=out, serve=serve_preview, port=port,
        open_browser=open_browser, screenshots=screenshots,
    )


@app.command()
@_reported
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
        typer.Option(
            min=0.1, help="Seconds to wait for a site's answer (connecting: at most 3).",
            metavar="SECONDS",
        ),
    ] = 5.0,
    settings: SettingsOpt = None,
) -> None:
    """Find every problem before a subscriber does: links, images, size, accessibility,
    deliverability and rendering. Exit status: 0 clean, 1 errors, 2 the issue cannot be loaded.
    """
    from mailer.checks import CheckOptions, check_issue

    options = CheckOptions(
        read_timeout=timeout,
        connect_timeout=min(timeout, CheckOptions.connect_timeout),
        cache_ttl=0 if no_cache else CheckOptions.cache_ttl,
    )
    check_issue(
        issue, settings=settings, offline=offline, render=render, options=options,
        as_json=json_output,
    )


@app.command()
@_reported
def init(
    folder: Annotated[
        Path, typer.Argument(help="A new or empty folder for the project.", metavar="FOLDER")
    ],
) -> None:
    """Start a newsletter project: mailer.toml, a sample issue, subscribers, .gitignore."""
    from mailer.compose.scaffold import start_project

    start_project(folder, Console())


@app.command()
@_reported
def new(
    path: Annotated[
        Path, typer.Argument(help="The new issue file, e.g. issues/2026-12.yaml.", metavar="PATH")
    ],
) -> None:
    """Start a new issue from a commented template."""
    from mailer.compose.scaffold import create

    create(path, Console())


@app.command()
@_reported
def send(
    issue: IssueArg,
    subscribers: Annotated[
        Path | None,
        typer.Option(help="Subscribers CSV (default: [send] subscribers).", metavar="CSV"),
    ] = None,
    transport: Annotated[
        str | None,
        typer.Option(
            help="Where to send, e.g. smtp://user@host:587 (default: [send] transport).",
            metavar="DSN",
        ),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to", help="Send a [TEST] copy to this address only (repeatable).",
            metavar="ADDRESS",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build every message, send none.")] = (
        False
    ),
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Parallel connections.", metavar="N")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="At most this many messages per second.", metavar="RATE"),
    ] = None,
    ledger: Annotated[
        Path | None, typer.Option(help="Send ledger (SQLite).", metavar="PATH")
    ] = None,
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
    from mailer.checks import refuse_on_errors
    from mailer.delivery.send import SendRequest, send_issue

    request = SendRequest(
        issue=issue, settings=settings, subscribers=subscribers, transport=transport,
        ledger=ledger, concurrency=concurrency, rate=rate, test_addresses=tuple(to or ()),
        dry_run=dry_run, assume_yes=yes, strict=strict,
    )
    send_issue(request, Console(), gate=None if force else refuse_on_errors)


@app.command()
@_reported
def status(
    issue: IssueArg,
    ledger: Annotated[
        Path | None, typer.Option(help="Send ledger (SQLite).", metavar="PATH")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write one CSV line per recipient here.", metavar="PATH"),
    ] = None,
    settings: SettingsOpt = None,
) -> None:
    """How far the issue's send is: counts, failures with reasons, a CSV report."""
    from mailer.delivery.status import show_status

    show_status(
        issue, Console(), settings=settings, ledger=ledger, as_json=as_json, csv_path=csv_path
    )


def main() -> None:
    app()
