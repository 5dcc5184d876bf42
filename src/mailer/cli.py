"""The ``mailer`` command: options in, library calls out, one place for error reporting."""

from __future__ import annotations

import contextlib
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from mailer import scaffold
from mailer.errors import MailerError
from mailer.pipeline import load
from mailer.preview import LivePreview, serve, watch, write_preview

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
    settings: SettingsOpt = None,
) -> None:
    """Write what subscribers will get and show it, reloading as you edit."""
    with user_errors():
        loaded = load(issue, settings)
        folder = out / loaded.issue.id
        files = write_preview(loaded, folder)
    typer.echo(f"Wrote {files.html}, {files.text} and {files.eml}")
    if not serve_preview:
        return
    live = LivePreview(issue, settings, folder)
    live.rebuild()
    server = serve(live, port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    stop = threading.Event()
    threading.Thread(target=watch, args=(live, stop), daemon=True).start()
    typer.echo(f"Previewing at {url} (reloads on every change; Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("Stopped.")
    finally:
        stop.set()
        server.server_close()


@app.command()
def new(
    path: Annotated[Path, typer.Argument(help="The new issue file, e.g. issues/2026-12.yaml.")],
) -> None:
    """Start a new issue from a commented template."""
    with user_errors():
        scaffold.create(path)
    typer.echo(f"Created {path}. Edit it, then run: mailer preview {path}")


def main() -> None:
    app()
