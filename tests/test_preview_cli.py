"""`mailer preview` and `mailer new`, run as a user would, plus the live-reload server."""

from __future__ import annotations

import contextlib
import email
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from email import policy
from pathlib import Path

from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.preview import live as preview_module
from mailer.preview.live import LivePreview, serve, watch

runner = CliRunner()


def without_traceback(result: Result) -> bool:
    """CliRunner keeps an exception in ``result.exception`` rather than printing a traceback."""
    return result.exception is None or isinstance(result.exception, SystemExit)

ISSUE = """
id: preview-test
subject: Hello {{ subscriber.first_name | default("friend") }}
lead:
  title: The lead story
  image: {src: assets/photo.png, alt: A photo of the centre}
  body: Dear {{ subscriber.first_name | default("friend") }}, welcome.
"""


def test_preview_no_serve_writes_email_text_and_message(project, tmp_path):
    issue = project.write_issue(ISSUE)
    out = tmp_path / "out"
    result = runner.invoke(app, ["preview", str(issue), "--no-serve", "--out", str(out)])
    assert result.exit_code == 0, result.output
    folder = out / "preview-test"
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "Dear Ayşe, welcome." in html
    assert 'src="images/photo.png"' in html
    assert (folder / "images" / "photo.png").is_file()
    assert "Dear Ayşe, welcome." in (folder / "message.txt").read_text(encoding="utf-8")
    message = email.message_from_bytes((folder / "message.eml").read_bytes(), policy=policy.default)
    assert message["Subject"] == "Hello Ayşe"
    assert message.get_content_type() == "multipart/related"
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds[:4] == ["multipart/related", "multipart/alternative", "text/plain", "text/html"]
    assert "image/png" in kinds
    assert str(folder / "index.html") in result.output


def test_preview_of_a_bad_issue_is_one_error_line_and_writes_nothing(project, tmp_path):
    issue = project.write_issue("id: x\nsubject: s\nlead:\n  tittle: t\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["preview", str(issue), "--no-serve", "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {issue}:4:3: lead.tittle: unknown field 'tittle' (did you mean 'title'?)"
    ]
    assert without_traceback(result)
    assert not out.exists()


def test_preview_of_an_image_outside_the_project_copies_and_writes_nothing(project, tmp_path):
    issue = project.write_issue(ISSUE.replace("assets/photo.png", "/etc/passwd"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["preview", str(issue), "--no-serve", "--out", str(out)])
    assert without_traceback(result)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: {issue}:5:11: lead.image.src: '/etc/passwd' is an absolute path; name a file "
        f"inside the project folder {project.root.resolve()}, relative to the file that names it"
    ]
    assert not out.exists()


def test_preview_without_settings_says_so(tmp_path):
    issue = tmp_path / "lonely.yaml"
    issue.write_text("id: x\nsubject: s\n", encoding="utf-8")
    result = runner.invoke(app, ["preview", str(issue), "--no-serve", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no mailer.toml found" in result.output


def test_new_scaffolds_an_issue_that_previews(project, tmp_path):
    path = project.root / "issues" / "2026-12-winter.yaml"
    result = runner.invoke(app, ["new", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert "id: 2026-12-winter" in text
    assert text.count("#") > 10  # it explains itself
    out = tmp_path / "out"
    result = runner.invoke(app, ["preview", str(path), "--no-serve", "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_new_never_overwrites(project):
    path = project.write_issue("id: keep\nsubject: keep me\n")
    result = runner.invoke(app, ["new", str(path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert path.read_text(encoding="utf-8") == "id: keep\nsubject: keep me\n"


def test_settings_that_are_a_folder_are_one_error_line(project, tmp_path):
    issue = project.write_issue(ISSUE)
    folder = issue.parent
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["preview", str(issue), "--no-serve", "--out", str(out), "--settings", str(folder)]
    )
    assert without_traceback(result)
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"Error: {folder}: cannot read file (Is a directory)"]
    assert not out.exists()


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_settings_not_in_utf8_are_one_error_line(project, tmp_path):
    issue = project.write_issue(ISSUE)
    text = project.settings.read_text(encoding="utf-8")
    # "Çankaya" is not UTF-8 any more ([footer.ar]'s Arabic, which cp1254 lacks, becomes "?").
    project.settings.write_bytes(text.encode("cp1254", errors="replace"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["preview", str(issue), "--no-serve", "--out", str(out)])
    assert without_traceback(result)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: {project.settings}:{_line_of(text, 'Çankaya')}: not UTF-8 text "
        "(invalid continuation byte)"
    ]
    assert not out.exists()


def test_an_out_folder_that_cannot_be_made_is_one_error_line(project, tmp_path):
    issue = project.write_issue(ISSUE)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(
        app, ["preview", str(issue), "--no-serve", "--out", str(blocker / "out")]
    )
    assert without_traceback(result)
    assert result.exit_code == 1
    folder = blocker / "out" / "preview-test"
    assert result.output.splitlines() == [f"Error: cannot write {folder}: Not a directory"]
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_new_below_a_file_is_one_error_line(project):
    settings = project.settings.read_bytes()
    path = project.settings / "x.yaml"
    result = runner.invoke(app, ["new", str(path)])
    assert without_traceback(result)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: cannot create {path}: {project.settings} is a file, not a folder"
    ]
    assert project.settings.read_bytes() == settings


def _next_event(stream) -> dict:
    while True:
        line = stream.readline().decode()
        if line.startswith("data: "):
            return json.loads(line[6:])


@contextlib.contextmanager
def live_preview(issue: Path, out: Path) -> Iterator[int]:
    """``mailer preview`` as it runs: built once, served on a free port, watching; the port."""
    live = LivePreview(issue, None, out)
    live.rebuild()
    server = serve(live, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    threading.Thread(target=watch, args=(live, stop), daemon=True).start()
    assert live.watching.wait(10), "the watcher did not start"
    try:
        yield server.server_address[1]
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_live_preview_reloads_when_the_yaml_changes(project, tmp_path):
    issue = project.write_issue(ISSUE)
    with live_preview(issue, tmp_path / "out") as port:
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        page.request("GET", "/")
        body = page.getresponse().read().decode()
        assert 'id="phone"' in body and "375px" in body and "EventSource" in body

        events = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        events.request("GET", "/events")
        stream = events.getresponse()
        first = _next_event(stream)
        assert first["error"] is None

        issue.write_text(ISSUE.replace("The lead story", "A changed story"), encoding="utf-8")
        changed = _next_event(stream)
        assert changed["generation"] > first["generation"]
        assert "A changed story" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")

        issue.write_text("id: x\nsubject: s\nlead:\n  tittle: t\n", encoding="utf-8")
        broken = _next_event(stream)
        assert "unknown field 'tittle'" in broken["error"]


def test_image_file_names_with_spaces_give_valid_content_ids(tmp_path):
    from mailer.compose.images import EmbeddedImages

    photo = tmp_path / "my photo (1).png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
    url = EmbeddedImages("iom.int").url_for(photo)
    assert url.startswith("cid:my-photo-1-.")
    assert " " not in url and "(" not in url


def test_a_busy_port_is_one_error_line(project, tmp_path):
    issue = project.write_issue(ISSUE)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app, ["preview", str(issue), "--out", str(tmp_path), "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"Error: cannot serve the preview on 127.0.0.1:{port}" in result.output
    assert "--port 0" in result.output
    assert without_traceback(result)


def test_live_preview_survives_settings_that_cannot_be_read(project, tmp_path):
    issue = project.write_issue(ISSUE)
    with live_preview(issue, tmp_path / "out") as port:
        events = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        events.request("GET", "/events")
        stream = events.getresponse()
        first = _next_event(stream)
        assert first["error"] is None

        good = project.settings.read_text(encoding="utf-8")
        project.settings.write_bytes(good.encode("cp1254", errors="replace"))  # Arabic: "?"
        broken = _next_event(stream)
        assert broken["error"] == (
            f"{project.settings}:{_line_of(good, 'Çankaya')}: not UTF-8 text "
            "(invalid continuation byte)"
        )

        project.settings.write_text(good, encoding="utf-8")
        fixed = _next_event(stream)
        assert fixed["error"] is None
        issue.write_text(ISSUE.replace("The lead story", "A changed story"), encoding="utf-8")
        changed = _next_event(stream)
        assert changed["generation"] > fixed["generation"]
        assert "A changed story" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_an_unexpected_error_is_shown_and_live_reload_goes_on(project, tmp_path, monkeypatch):
    issue = project.write_issue(ISSUE)
    live = LivePreview(issue, None, tmp_path / "out")
    live.rebuild()
    real_write_editions = preview_module.write_editions
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real_write_editions(*args, **kwargs)

    monkeypatch.setattr(preview_module, "write_editions", fails_once)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(live, stop), daemon=True)
    watcher.start()
    try:
        assert live.watching.wait(10), "the watcher did not start"
        seen = live.generation
        issue.write_text(ISSUE.replace("The lead story", "A first change"), encoding="utf-8")
        seen = live.wait_for_change(seen, timeout=10)
        assert live.error == "unexpected error: RuntimeError('a bug')"
        assert watcher.is_alive()

        issue.write_text(ISSUE.replace("The lead story", "A second change"), encoding="utf-8")
        assert live.wait_for_change(seen, timeout=10) > seen
        assert live.error is None
        assert "A second change" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    finally:
        stop.set()


def _get(port: int, path: str, host: str | None) -> int:
    """The status of ``GET path`` with ``host`` in the Host header (None: no Host header)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_preview_answers_only_requests_addressed_to_this_machine(project, tmp_path):
    issue = project.write_issue(ISSUE)
    with live_preview(issue, tmp_path / "out") as port:
        for host in ("127.0.0.1", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}",
                     f"LocalHost:{port}"):
            assert _get(port, "/state", host) == 200, host
        # A page on another site can point its own name at 127.0.0.1 (DNS rebinding).
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}",
                     f"localhost.evil.example:{port}", "127.0.0.1.nip.io"):
            assert _get(port, "/state", host) == 421, host
            assert _get(port, "/message.eml", host) == 421, host
        assert _get(port, "/", None) == 400


def test_the_preview_lists_no_folder(project, tmp_path):
    issue = project.write_issue(ISSUE)
    with live_preview(issue, tmp_path / "out") as port:
        host = f"127.0.0.1:{port}"
        assert _get(port, "/images/photo.png", host) == 200
        for folder in ("/images/", "/images", "/images/..", "/images/?x=1"):
            assert _get(port, folder, host) == 404, folder
