"""``mailer init``: a new newsletter project that previews, checks and sends to its outbox with
nothing but mailer installed (its templates are the package's own)."""

from __future__ import annotations

import mailbox
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from PIL import Image
from projects import mailer

ROOT = Path(__file__).resolve().parents[1]
FIRST_ISSUE = "issues/first-issue.yaml"



@pytest.fixture
def started(tmp_path, monkeypatch) -> Path:
    code, out = mailer("init", tmp_path / "news")
    assert code == 0, out
    monkeypatch.chdir(tmp_path / "news")
    return tmp_path / "news"


def test_init_writes_a_commented_project(started):
    files = sorted(str(p.relative_to(started)) for p in started.rglob("*") if p.is_file())
    assert files == [
        ".gitignore", "issues/assets/logo.png", "issues/assets/photo.png", FIRST_ISSUE,
        "mailer.toml", "subscribers.csv",
    ]
    ignored = (started / ".gitignore").read_text("utf-8").split()
    assert {".mailer/", "out/"} <= set(ignored)
    settings = (started / "mailer.toml").read_text("utf-8")
    assert settings.count("\n# ") > 10  # explained, line by line
    assert not (started / "templates").exists()  # the package's theme until the project adds one


def own_images(project: Path) -> None:
    """The organisation's own logo and photo in place of the samples, under the same names."""
    assets = project / "issues" / "assets"
    Image.new("RGBA", (320, 96), (255, 255, 255, 0)).save(assets / "logo.png")
    Image.new("RGB", (600, 400), "#6A8CAF").save(assets / "photo.png")


def test_the_sample_logo_and_photo_are_errors_until_replaced(started):
    code, out = mailer("check", FIRST_ISSUE, "--offline")
    assert code == 1, out
    assert f"{FIRST_ISSUE}: 2 errors, 4 warnings, 3 notes\n" in out, out
    photo_line = next(
        n for n, line in enumerate((started / FIRST_ISSUE).read_text("utf-8").splitlines(), 1)
        if "src: assets/photo.png" in line
    )
    assert f"{FIRST_ISSUE}:{photo_line}:5: error [images] photo.png is the sample photo" in out
    assert "mailer.toml:15: error [images] logo.png is the sample logo" in out
    assert "replace it with your organisation's logo" in out
    # The warnings are the example addresses left in mailer.toml, each at its line.
    assert out.count("warning [content]") == 4 and "mailer.toml:" in out
    code, out = mailer("send", FIRST_ISSUE, "--yes")
    assert code == 1 and "not sending" in out, out
    assert not (started / "outbox").exists()

    own_images(started)
    code, out = mailer("check", FIRST_ISSUE, "--offline")
    assert code == 0, out
    assert out.splitlines()[0].endswith(": 0 errors, 4 warnings, 3 notes"), out


def test_the_sample_issue_previews_and_sends_to_the_outbox(started):
    code, out = mailer("preview", FIRST_ISSUE, "--no-serve")
    assert code == 0, out
    html = (started / "out" / "first-issue" / "index.html").read_text("utf-8")
    assert "One file per issue, one look for every issue" in html and "m-masthead" in html
    own_images(started)
    code, out = mailer("send", FIRST_ISSUE, "--yes")
    assert code == 0, out
    messages = list(mailbox.Maildir(started / "outbox", create=False))
    assert len(messages) == 2
    texts = sorted(
        message_from_bytes(m.as_bytes(), policy=default_policy).get_body(("plain",)).get_content()
        for m in messages
    )
    assert [t.split("Hello ", 1)[1].split(",")[0] for t in texts] == ["Ada", "there"]


def test_init_never_touches_a_folder_with_files(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", "utf-8")
    code, out = mailer("init", folder)
    assert code == 1
    assert "is not empty" in out and "nothing was changed" in out
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_new_names_the_preview_to_run_quoted_for_a_shell(started):
    code, out = mailer("new", "issues/next issue.yaml")
    assert code == 0, out
    assert out.strip().endswith("Edit it, then run: mailer preview 'issues/next issue.yaml'")
    code, out = mailer("preview", "issues/next issue.yaml", "--no-serve")  # runs as printed
    assert code == 0, out
