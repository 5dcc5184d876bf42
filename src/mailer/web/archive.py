"""The newsletter's site (``mailer archive``) served by ``mailer serve --archive site/``, so that
one small deployment answers unsubscribes and hosts the archive.

Files inside the folder and nothing else: a folder answers with its ``index.html`` (a folder
asked for without its final ``/`` is redirected there first, so that the page's relative links
resolve), never with a listing; a path with a hidden part (``.git``, a file being written) or
one leading out of the folder (``..``, a symbolic link pointing elsewhere) is a 404. The routes
of unsubscribes, webhooks and ``/healthz`` win over files of the same name. Each file goes out
with its own content type, and with a policy that lets no page run a script.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, redirect, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response  # redirect() makes this, send_file() a subclass

from mailer.web.app import Context

INDEX = "index.html"
TYPES = {  # Werkzeug adds "; charset=utf-8" to the text ones
    ".html": "text/html",
    ".xml": "application/xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".css": "text/css",
    ".txt": "text/plain",
}
FEED_TYPE = "application/atom+xml"
# The site's pages have no script and load only their own images (or the hosted ones).
POLICY = (
    "default-src 'none'; img-src 'self' https:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
IMMUTABLE = 365 * 24 * 3600  # images/ names change with their content


def register(app: Flask, context: Context) -> None:
    if context.archive is None:
        return
    root = context.archive.resolve()

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD"])
    @app.route("/<path:path>", methods=["GET", "HEAD"])
    def archived(path: str) -> Response:
        target = inside(root, path)
        if target.is_dir():
            if path and not path.endswith("/"):
                return redirect(f"{request.script_root}/{path}/", 301)
            target = target / INDEX
        if not target.is_file():
            raise NotFound()
        response = send_file(
            target, mimetype=content_type(target), conditional=True,
            max_age=IMMUTABLE if path.startswith("images/") else 0,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = POLICY
        return response


def inside(root: Path, path: str) -> Path:
    """The file or folder ``path`` names under ``root``; NotFound for anything else."""
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        raise NotFound()
    target = root.joinpath(*parts)
    try:
        if not target.resolve().is_relative_to(root):
            raise NotFound()
    except OSError:
        raise NotFound() from None
    return target


def content_type(path: Path) -> str:
    if path.suffix == ".xml" and path.name.startswith("feed"):
        return FEED_TYPE
    return TYPES.get(path.suffix.lower(), "application/octet-stream")
