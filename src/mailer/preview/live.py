"""The live preview: a local page that shows the email and rebuilds it on every change.

The page shows the email at phone and desktop widths, the text part and the raw message side by
side, and reloads whenever the YAML, a template, an image or ``mailer.toml`` changes. It is
served on 127.0.0.1 only, answers only requests addressed to this machine by name (``Host``),
and serves files, never a listing of a folder.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mailer.compose.editions import load_editions
from mailer.compose.render import theme_of
from mailer.errors import CannotListen, MailerError
from mailer.preview.files import write_editions

if TYPE_CHECKING:
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class LivePreview:
    """Rebuilds the preview on demand and tells waiting browsers when it changed."""

    def __init__(
        self, issue_path: Path, settings_path: Path | None, out_dir: Path, *,
        edition: str | None = None,
    ) -> None:
        self.issue_path = issue_path
        self.settings_path = settings_path
        self.edition = edition
        self.out_dir = out_dir
        self.generation = 0
        self.error: str | None = None
        # The editions shown, as the page's switcher lists them: language and folder.
        self.editions: list[dict[str, str]] = []
        self.watched: list[Path] = [issue_path.resolve().parent]
        self._changed = threading.Condition()
        self.watching = threading.Event()  # set once file changes are being watched

    def rebuild(self) -> None:
        """Write the preview again; any failure becomes the error state the browser shows.

        Unexpected exceptions are caught too: this runs in the watcher thread, and letting one
        escape would end live reload for the rest of the session.
        """
        try:
            editions = load_editions(self.issue_path, self.settings_path, edition=self.edition)
            written = write_editions(editions, self.out_dir)
            self.editions = [{"language": w.language, "folder": w.folder} for w in written]
            self.watched = sorted({
                self.issue_path.resolve().parent,
                *theme_of(editions.default).folders,
                editions.default.settings.path,
                *(
                    loaded.image_path(item.image).parent
                    for loaded in editions.chosen for item in loaded.issue.all_items()
                    if item.image
                ),
            })
            self.error = None
        except MailerError as exc:
            self.error = str(exc)
        except Exception as exc:  # not only MailerError: see the docstring
            self.error = f"unexpected error: {exc!r}"
        with self._changed:
            self.generation += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.generation != seen, timeout=timeout)
            return self.generation

    def state(self) -> dict:
        return {"generation": self.generation, "error": self.error, "editions": self.editions}


def watch(preview: LivePreview, stop: threading.Event) -> None:
    """Rebuild on every change below the watched paths until ``stop`` is set."""
    from watchfiles import watch as watch_paths

    while not stop.is_set():
        watching = watch_paths(
            *preview.watched, stop_event=stop, debounce=150, rust_timeout=200,
            yield_on_timeout=True,
        )
        for changes in watching:
            # The first yield, a change or a quiet 200 ms, comes after the watches are set.
            preview.watching.set()
            if not changes:
                continue
            before = preview.watched
            preview.rebuild()
            if preview.watched != before:
                break  # restart the watcher on the new set of folders


def _handler(preview: LivePreview) -> Callable[..., SimpleHTTPRequestHandler]:
    # Imported here: the server module costs ~30 ms, which `--no-serve` need not pay.
    from http.server import SimpleHTTPRequestHandler

    page = resources.files("mailer.preview").joinpath("preview.html").read_text(encoding="utf-8")

    class Handler(SimpleHTTPRequestHandler):
        server: ThreadingHTTPServer  # the one serve() makes, bound to an address and a port

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(preview.out_dir), **kwargs)

        def log_message(self, format: str, *args) -> None:
            """Keep the terminal quiet; the preview is not a web server log."""

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def parse_request(self) -> bool:
            """Refuse a request addressed to any other name than this machine's.

            A web page can point a DNS name it controls at 127.0.0.1 ("DNS rebinding") and then
            read the preview as its own; its requests still carry that name in ``Host``.
            """
            if not super().parse_request():
                return False
            host = self.headers.get("Host")
            port = self.server.server_port
            if host is None:
                self.send_error(HTTPStatus.BAD_REQUEST, "No Host header")
            elif host.strip().lower() not in {
                f"{name}{suffix}" for name in LOOPBACK_NAMES for suffix in ("", f":{port}")
            }:
                self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "Only 127.0.0.1 is served")
            else:
                return True
            return False

        def send_head(self) -> BinaryIO | None:
            """Files only: a folder is not found, rather than listed."""
            if os.path.isdir(self.translate_path(self.path)):
                self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                return None
            return super().send_head()

        def do_GET(self) -> None:
            if self.path in ("/", "/preview"):
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode("utf-8"))
            elif self.path.startswith("/state"):
                body = json.dumps(preview.state()).encode("utf-8")
                self._send(HTTPStatus.OK, "application/json", body)
            elif self.path.startswith("/events"):
                self._stream_events()
            else:
                super().do_GET()

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream_events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            seen = -1
            try:
                while True:
                    seen = preview.wait_for_change(seen, timeout=15)
                    data = json.dumps(preview.state())
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


def serve(preview: LivePreview, port: int) -> ThreadingHTTPServer:
    """Start serving on 127.0.0.1 (``port`` 0 picks a free one); the caller runs it."""
    from http.server import ThreadingHTTPServer

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(preview))
    except OSError as exc:
        raise CannotListen(
            f"cannot serve the preview on 127.0.0.1:{port}: {exc.strerror} "
            "(is another preview running? --port 0 picks a free port)"
        ) from None
    server.daemon_threads = True
    return server
