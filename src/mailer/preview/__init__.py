"""``mailer preview``: write what subscribers will get, show it, and reload it as you edit."""

from __future__ import annotations

import threading
from pathlib import Path

from mailer.compose.editions import load_editions
from mailer.console import Console
from mailer.preview.files import write_editions


def preview_issue(
    issue: Path,
    console: Console,
    *,
    settings: Path | None = None,
    out: Path = Path("out"),
    serve: bool = True,
    port: int = 8025,
    open_browser: bool = False,
    screenshots: bool = False,
    edition: str | None = None,
    publish: Path | None = None,
) -> None:
    """Write the preview files of every edition (or ``edition``) to ``out/<issue id>/``; with
    ``serve``, serve them with live reload on 127.0.0.1 until Ctrl-C. With ``publish``, write
    only the review copy for colleagues into that folder (see :mod:`mailer.preview.publish`).
    """
    editions = load_editions(issue, settings, edition=edition)
    if publish is not None:
        from mailer.preview.publish import publish_review

        copy = publish_review(editions, publish)
        console.say(f"Wrote the review copy in {copy.folder}")
        if copy.url:
            console.say(f"Once {publish} is published, colleagues open it at {copy.url}")
        else:
            console.say(f"Publish {publish} on any static host; the copy is its folder "
                        f"{copy.folder.name}/ (with [archive] base_url set, its address is "
                        "printed here)")
        return
    folder = out / editions.issue_id
    for written in write_editions(editions, folder):
        files = written.files
        console.say(f"Wrote {files.html}, {files.text} and {files.eml}")
        if screenshots:
            from mailer.preview.browser import take_screenshots

            shots = take_screenshots(files.html)
            console.say(f"Saved {', '.join(shot.name for shot in shots)} in {files.html.parent}")
    if serve:
        _serve(issue, settings, edition, folder, port, open_browser, console)


def _serve(
    issue: Path, settings: Path | None, edition: str | None, folder: Path, port: int,
    open_browser: bool, console: Console,
) -> None:
    from mailer.preview.live import LivePreview, serve, watch

    live = LivePreview(issue, settings, folder, edition=edition)
    live.rebuild()
    server = serve(live, port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    stop = threading.Event()
    threading.Thread(target=watch, args=(live, stop), daemon=True).start()
    console.say(f"Previewing at {url} (reloads on every change; Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.say("Stopped.")
    finally:
        stop.set()
        server.server_close()
