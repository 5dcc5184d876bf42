"""The ``mailer`` command: options in, one library call per command, one place for errors.

Every command body only turns its options into the arguments of one library function. Any
``MailerError`` it raises becomes one ``Error: ...`` line and the exit status of its kind (see
:mod:`mailer.errors`), in :func:`_reported`; anything else is a bug and keeps its traceback.

What only one command needs is imported inside that command, so ``mailer --help`` and
``mailer preview`` do not pay for the checks, the HTTP clients or the send machinery.

No ``from __future__ import annotations`` here: typer reads every command's annotations on each
run, and as strings they would be compiled and evaluated each time (~15 ms of start-up).
"""

import functools
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from mailer.console import Console
from mailer.credentials import environment_redactor
from mailer.errors import MailerError
from mailer.feedback.subscribers import COMMANDS as SUBSCRIBERS_COMMANDS

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


DISTRIBUTION = "newsletter-as-code"  # the name pip knows mailer by ("mailer" is another package)


def _show_version(wanted: bool) -> None:
    """``mailer --version``: the version pip installed, from the package's metadata."""
    if not wanted:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:  # imported from a source folder, never installed
        installed = "(not installed)"
    typer.echo(f"mailer {installed} ({DISTRIBUTION})")
    raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True,
                     help="Print the installed version and stop."),
    ] = False,
) -> None:
    """The options of ``mailer`` itself, before any command."""


def _reported(command: Callable[P, R]) -> Callable[P, R]:
    """The one place a library error becomes ``Error: ...`` and its exit status."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except MailerError as exc:
            typer.echo(environment_redactor()(f"Error: {exc}"), err=True)
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
LedgerOpt = Annotated[
    Path | None, typer.Option(help="Send ledger (SQLite).", metavar="PATH")
]
EditionOpt = Annotated[
    str | None,
    typer.Option(
        "--edition",
        help="Only this edition, e.g. tr for ISSUE.tr.yaml (default: every edition).",
        metavar="LANG",
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
    publish: Annotated[
        Path | None,
        typer.Option(
            "--publish", metavar="FOLDER",
            help="Instead, write a review copy for colleagues into FOLDER, for any static host: "
            "every edition at phone and desktop width, light and dark, under a name nobody "
            "can guess.",
        ),
    ] = None,
    edition: EditionOpt = None,
    settings: SettingsOpt = None,
) -> None:
    """Write what subscribers will get and show it, reloading as you edit."""
    from mailer.preview import preview_issue

    preview_issue(
        issue, Console(), settings=settings, out=out, serve=serve_preview, port=port,
        open_browser=open_browser, screenshots=screenshots, edition=edition, publish=publish,
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
    edition: EditionOpt = None,
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
        as_json=json_output, edition=edition,
    )


@app.command()
@_reported
def init(
    folder: Annotated[
        Path, typer.Argument(help="A new or empty folder for the project.", metavar="FOLDER")
    ],
    organisation: Annotated[
        str | None, typer.Option(help="Your organisation's name.", metavar="NAME")
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(help="The address the newsletter comes from.", metavar="ADDRESS"),
    ] = None,
    sender_name: Annotated[
        str | None,
        typer.Option(help="The sender's name (default: the organisation).", metavar="NAME"),
    ] = None,
    website: Annotated[
        str | None, typer.Option(help="Your website, https://...", metavar="URL")
    ] = None,
    postal_address: Annotated[
        str | None,
        typer.Option(help="The postal address every newsletter shows.", metavar="ADDRESS"),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(help="The newsletter's languages, the main one first: en, tr, ar.",
                     metavar="TAGS"),
    ] = None,
    transport: Annotated[
        str | None,
        typer.Option(help="How to send: outbox, smtp://USER@HOST:587, mailgun://DOMAIN, "
                     "sendgrid or postmark.", metavar="DSN"),
    ] = None,
    unsubscribe: Annotated[
        str | None,
        typer.Option(help="How readers unsubscribe: web, esp (with an ESP) or mailto.",
                     metavar="HOW"),
    ] = None,
    unsubscribe_url: Annotated[
        str | None, typer.Option(help="The unsubscribe page (web), with {token}.", metavar="URL")
    ] = None,
    unsubscribe_mailto: Annotated[
        str | None,
        typer.Option(help="The address readers write to to unsubscribe (mailto).",
                     metavar="ADDRESS"),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Ask nothing: the defaults for what no flag gives.")
    ] = False,
) -> None:
    """Start a newsletter project: mailer.toml with your answers, a sample issue, subscribers,
    .gitignore. On a terminal it asks what no flag answers; otherwise it takes the defaults."""
    from mailer.audience.unsubscribe import SECRET_VARIABLE
    from mailer.compose.scaffold import SecretNames, start_project
    from mailer.delivery.transports import secret_variable_for

    console = Console()
    given = {
        "organisation": organisation, "sender": sender, "sender_name": sender_name,
        "website": website, "postal_address": postal_address, "languages": languages,
        "transport": transport, "unsubscribe": unsubscribe, "unsubscribe_url": unsubscribe_url,
        "unsubscribe_mailto": unsubscribe_mailto,
    }
    start_project(
        folder, console, given, asking=console.interactive and not yes,
        secrets=SecretNames(secret_variable_for, SECRET_VARIABLE),
    )


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
def translate(
    issue: IssueArg,
    lang: Annotated[
        str,
        typer.Option("--lang", help="The edition's language, e.g. fr or pt-BR.", metavar="LANG"),
    ],
    po: Annotated[
        Path | None,
        typer.Option("--po", help="Export the edition's texts as a PO file.", metavar="FILE"),
    ] = None,
    po_import: Annotated[
        Path | None,
        typer.Option(
            "--po-import", help="Write a PO file's translations into the edition.", metavar="FILE"
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Outside git: record the default's texts of now as those translated from.",
        ),
    ] = False,
    settings: SettingsOpt = None,
) -> None:
    """Start an edition in another language, or trade its texts as a PO file."""
    from mailer.compose.translate import translate as run

    run(issue, lang, Console(), settings=settings, po=po, po_import=po_import, refresh=refresh)


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
    ledger: LedgerOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send without asking.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if the offline checks find errors.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="A bad row in the CSV stops the send (default: skip).")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Before the issue's send_at, wait for it and send "
                     "(default: say when it is scheduled and send nothing)."),
    ] = False,
    edition: EditionOpt = None,
    settings: SettingsOpt = None,
) -> None:
    """Send the issue to every subscriber exactly once; run it again to resume."""
    from mailer.checks import refuse_on_errors
    from mailer.delivery.send import SendRequest, send_issue

    request = SendRequest(
        issue=issue, settings=settings, subscribers=subscribers, transport=transport,
        ledger=ledger, concurrency=concurrency, rate=rate, test_addresses=tuple(to or ()),
        dry_run=dry_run, assume_yes=yes, strict=strict, edition=edition, force=force, wait=wait,
    )
    send_issue(request, Console(), gate=None if force else refuse_on_errors)


@app.command()
@_reported
def doctor(
    offline: Annotated[
        bool, typer.Option("--offline", help="No network: the secrets and local files only.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the findings as JSON.")
    ] = False,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", metavar="PATH",
                     help="mailer.toml to use (default: the nearest in this folder or above)."),
    ] = None,
) -> None:
    """Find what a real send still needs: secrets, the transport's login, SPF, DKIM, DMARC,
    the unsubscribe page. Exit status: 0 ready (warnings allowed), 1 something blocks a real
    send, 2 the settings cannot be loaded."""
    from mailer.doctor import run_doctor

    run_doctor(Console(), settings=settings, offline=offline, json_output=json_output)


@app.command()
@_reported
def status(
    issue: IssueArg,
    ledger: LedgerOpt = None,
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


@app.command()
@_reported
def archive(
    out: Annotated[
        Path | None,
        typer.Option(help="The site's folder (default: [archive] out, site/).", metavar="FOLDER"),
    ] = None,
    include_unsent: Annotated[
        bool, typer.Option("--all", help="Also the issues not sent yet.")
    ] = False,
    issue: Annotated[
        str | None, typer.Option(help="Only the issue with this id.", metavar="ID")
    ] = None,
    ledger: LedgerOpt = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", metavar="PATH",
                     help="mailer.toml to use (default: the nearest in this folder or above)."),
    ] = None,
) -> None:
    """Build the newsletter's site from the issues sent so far: a page per issue and edition,
    an index and an Atom feed per language, a sitemap (for any static host)."""
    from mailer.archive.build import ArchiveRequest, build_archive

    request = ArchiveRequest(
        settings=settings, out=out, include_unsent=include_unsent, issue=issue, ledger=ledger
    )
    build_archive(request, Console())


@app.command()
@_reported
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(metavar="N", help="Port to listen on.")] = 8080,
    archive: Annotated[
        Path | None,
        typer.Option("--archive", metavar="FOLDER",
                     help="Also serve the site mailer archive built, such as site/."),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", metavar="PATH",
                     help="mailer.toml to use (default: the nearest in this folder or above)."),
    ] = None,
) -> None:
    """Answer unsubscribe links and one-click unsubscribes, receive the ESPs' webhooks, and
    serve the suppressions to mailer suppressions pull (waitress; put HTTPS in front); with
    --archive, the newsletter's site too. With [list] subscribe_url, the sign-up form (double
    opt-in) and the readers' preference page (mailer subscribers form prints the form to
    embed in your website)."""
    from mailer.web.server import serve as serve_app

    serve_app(Console(), settings=settings, host=host, port=port, archive=archive)


@app.command()
@_reported
def bounces(
    maildir: Annotated[
        Path | None, typer.Option("--maildir", metavar="PATH", help="A Maildir to read.")
    ] = None,
    imap: Annotated[
        str | None,
        typer.Option("--imap", metavar="URL",
                     help="imaps://USER@HOST/INBOX (password in MAILER_IMAP_PASSWORD)."),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", metavar="PATH",
                     help="mailer.toml to use (default: the nearest in this folder or above)."),
    ] = None,
) -> None:
    """Read the bounce mailbox: suppress hard bounces, complaints and unsubscribes by mail,
    count soft bounces, leave what is not understood untouched."""
    from mailer.feedback.bounces import read_bounces

    read_bounces(Console(), settings=settings, maildir=maildir, imap=imap)


suppressions_app = typer.Typer(
    help="The suppression store: who is never written to again, and why.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(suppressions_app, name="suppressions")
AddressArg = Annotated[str, typer.Argument(help="An email address.", metavar="ADDRESS")]
ProjectOpt = Annotated[
    Path | None,
    typer.Option("--settings", metavar="PATH",
                 help="mailer.toml to use (default: the nearest in this folder or above)."),
]


@suppressions_app.command("list")
@_reported
def suppressions_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    reason: Annotated[
        str | None, typer.Option(metavar="REASON", help="Only unsubscribed, bounced, ...")
    ] = None,
    settings: ProjectOpt = None,
) -> None:
    """Every suppressed address, with its reason, source and when it was last seen."""
    from mailer.feedback.suppressions import list_entries

    list_entries(Console(), settings=settings, as_json=as_json, reason=reason)


@suppressions_app.command("add")
@_reported
def suppressions_add(
    address: AddressArg,
    reason: Annotated[
        str, typer.Option(metavar="REASON", help="unsubscribed, bounced, complained, manual.")
    ] = "manual",
    note: Annotated[str, typer.Option(metavar="TEXT", help="Why, for the record.")] = "",
    settings: ProjectOpt = None,
) -> None:
    """Never write to ADDRESS again."""
    from mailer.feedback.suppressions import add

    add(address, Console(), settings=settings, reason=reason, note=note)


@suppressions_app.command("remove")
@_reported
def suppressions_remove(
    address: AddressArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Also when the reader unsubscribed themselves.")
    ] = False,
    settings: ProjectOpt = None,
) -> None:
    """Write to ADDRESS again."""
    from mailer.feedback.suppressions import remove

    remove(address, Console(), settings=settings, yes=yes)


@suppressions_app.command("import")
@_reported
def suppressions_import(
    path: Annotated[Path, typer.Argument(metavar="CSV", help="A CSV export to import.")],
    reason: Annotated[
        str | None,
        typer.Option(metavar="REASON", help="For rows without one (default: from the file)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="A wrong row stops the import; nothing is imported.")
    ] = False,
    settings: ProjectOpt = None,
) -> None:
    """Import a CSV: an export of this store, or Mailchimp's unsubscribed or cleaned export."""
    from mailer.feedback.suppressions import import_file

    import_file(path, Console(), settings=settings, reason=reason, strict=strict)


@suppressions_app.command("export")
@_reported
def suppressions_export(
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="A file (default: the output).")
    ] = None,
    settings: ProjectOpt = None,
) -> None:
    """Every suppression as CSV, which import reads back."""
    from mailer.feedback.suppressions import export

    export(Console(), settings=settings, out=out)


@suppressions_app.command("forget")
@_reported
def suppressions_forget(
    address: AddressArg,
    ledger: Annotated[
        list[Path] | None,
        typer.Option("--ledger", metavar="PATH", help="Another ledger to erase it from."),
    ] = None,
    settings: ProjectOpt = None,
) -> None:
    """Erase ADDRESS everywhere (sign-up, consent record, preferences, suppressions, every
    ledger: the right to erasure); keep only a keyed hash of it, so that it is never written
    to again. The same command as mailer subscribers forget."""
    from mailer.feedback.suppressions import forget

    forget(address, Console(), settings=settings, ledgers=tuple(ledger or ()))


@suppressions_app.command("pull")
@_reported
def suppressions_pull(
    url: Annotated[
        str | None,
        typer.Argument(metavar="URL", help="The server's URL (default: [list] serve_url)."),
    ] = None,
    esp: Annotated[
        bool,
        typer.Option("--esp", help="Read the ESP's suppression lists instead (every page): "
                     "its unsubscribes, bounces and complaints."),
    ] = False,
    settings: ProjectOpt = None,
) -> None:
    """Copy the suppressions of a server running mailer serve into this project's store
    (bearer token MAILER_SYNC_TOKEN), or with --esp those of the ESP of [send] transport."""
    from mailer.feedback.suppressions import pull

    pull(Console(), settings=settings, url=url, esp=esp)


subscribers_app = typer.Typer(
    help="The sign-ups: who asked for the newsletter, and the proof of their consent.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(subscribers_app, name="subscribers")
for _name, _command in SUBSCRIBERS_COMMANDS.items():
    subscribers_app.command(_name)(_reported(_command))
subscribers_app.command("forget")(suppressions_forget)  # one erasure, under both names


def main() -> None:
    # A command's start-up makes some 60,000 objects that live as long as the process (modules,
    # classes, the schemas of the settings and the issue): at the default threshold (700) the
    # cycle collector ran ~140 times while they were made, a tenth of ``mailer preview``'s
    # CPU, and ~170 times in a send of 20,000 messages. Every ten thousand new objects is often
    # enough for what a command leaves in cycles.
    gc.set_threshold(10_000, 10, 10)
    app()
