"""``[send] require = "committed"``: in a real git repository, a send refuses while a file it is
made from differs from HEAD, and records the commit it was sent from once they are committed."""

from __future__ import annotations

import json
import mailbox
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from projects import mailer
from sending import make_project, write_subscribers

REQUIRE = '[send]\nrequire = "committed"\n'


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project in the subfolder news/ of a git repository, everything committed."""
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Editor")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "editor@example.org")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # none of this machine's git settings
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    issue = make_project(tmp_path / "news")
    root = tmp_path / "news"
    write_subscribers(root / "subscribers.example.csv", 5)
    settings = root / "mailer.toml"
    settings.write_text(settings.read_text("utf-8").replace("[send]\n", REQUIRE), "utf-8")
    issue.with_name("send-test.tr.yaml").write_text(
        "subject: Haberler\nlead:\n  title: Haber\n  body: Metin.\n", "utf-8"
    )
    (root / ".gitignore").write_text(".mailer/\noutbox/\nsubscribers.example.csv\n", "utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "The issue, reviewed")
    monkeypatch.chdir(root)
    return issue


def outbox(issue: Path) -> int:
    folder = issue.parents[1] / "outbox"
    return len(mailbox.Maildir(folder, create=False)) if folder.exists() else 0


@pytest.mark.parametrize("name", [
    "issues/send-test.yaml", "issues/send-test.tr.yaml", "mailer.toml",
    "issues/assets/photo.png", "templates/newsletter.txt.j2",
])
def test_an_uncommitted_change_stops_the_send(news: Path, name: str) -> None:
    changed = news.parents[1] / name
    changed.write_bytes(changed.read_bytes() + b"\n")
    code, out = mailer("send", news, "--yes")
    line = (news.parents[1] / "mailer.toml").read_text("utf-8").splitlines().index("[send]") + 2
    assert code == 2
    assert out.startswith(f"Error: {news.parents[1] / 'mailer.toml'}:{line}: send.require: ")
    assert "differ from the last commit" in out and f": {name} (changed);" in out
    assert len(out.splitlines()) == 1 and outbox(news) == 0


def test_untracked_and_staged_files_are_named_too(news: Path) -> None:
    (news.parents[1] / "templates" / "icons" / "pigeon.png").write_bytes(b"not yet reviewed")
    (news.parents[1] / "templates" / ".DS_Store").write_bytes(b"a desktop's, never read")
    (news.parents[1] / "templates" / ".footer.j2").write_text("{# one a template may include #}")
    edition = news.with_name("send-test.ar.yaml")
    edition.write_text("subject: أخبار\nlead:\n  title: خبر\n  body: نص الخبر.\n", "utf-8")
    git(news.parents[1], "add", "issues/send-test.ar.yaml")
    code, out = mailer("send", news, "--yes")
    assert code == 2
    assert "issues/send-test.ar.yaml (added, not committed)" in out
    assert "templates/icons/pigeon.png (untracked)" in out
    assert ".DS_Store" not in out
    assert "templates/.footer.j2 (untracked)" in out
    code, out = mailer("send", news, "--to", "editor@example.org")  # a test copy is not a send
    assert code == 0, out
    assert outbox(news) == 3  # one of each edition: en, tr and the new ar


def test_once_committed_it_sends_and_every_record_names_the_commit(news: Path) -> None:
    issue = news.parents[1] / "issues" / "send-test.yaml"
    issue.write_text(issue.read_text("utf-8").replace("Lead story", "Lead story, revised"))
    assert mailer("send", news, "--yes")[0] == 2
    git(news.parents[1], "commit", "-qam", "Revised after review")
    head = git(news.parents[1], "rev-parse", "HEAD")

    code, out = mailer("send", news, "--yes")
    assert code == 0, out
    assert f"Commit:    {head}" in out and "Done: sent 5 now" in out
    ledger = news.parents[1] / ".mailer" / "ledger.sqlite3"
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT c.sha FROM recipients r LEFT JOIN commits c "
                          "ON c.id = r.source").fetchall()
    assert rows == [(head,)] * 5
    code, out = mailer("status", news, "--json")
    assert json.loads(out)["commits"] == [head]
    assert f"sent from commit {head}" in mailer("status", news)[1]

    settings = news.parents[1] / "mailer.toml"
    settings.write_text(settings.read_text("utf-8") + '\n[archive]\nbase_url = '
                        '"https://news.example.org/"\n', "utf-8")
    code, out = mailer("archive")
    assert code == 0, out
    page = (news.parents[1] / "site" / "send-test" / "index.html").read_text("utf-8")
    assert f"<!-- issues/send-test.yaml, sent from commit {head} -->" in page


def test_outside_a_git_repository_the_setting_is_an_error(tmp_path: Path, monkeypatch) -> None:
    issue = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 5)
    settings = tmp_path / "news" / "mailer.toml"
    settings.write_text(settings.read_text("utf-8").replace("[send]\n", REQUIRE), "utf-8")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(tmp_path / "news")
    code, out = mailer("send", issue, "--yes")
    assert code == 2
    assert 'send.require: require = "committed" sends only committed files, but ' in out
    assert f"{tmp_path / 'news'} is not in a git repository" in out
    assert outbox(issue) == 0
