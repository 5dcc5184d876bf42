"""The GitHub Actions workflow ``mailer init`` writes: GitHub's schema accepts it, each secret
a send needs comes from the repository's secret store, and its steps that keep the ledger
between runs do, in real git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from projects import mailer
from sending import ISSUE, make_project, write_subscribers

WORKFLOW = Path(".github") / "workflows" / "newsletter.yml"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("init") / "newsletter"
    code, out = mailer("init", folder, "--yes", "--transport", "smtp://news@mail.example.org:587")
    assert code == 0, out
    return folder


def steps(project: Path, job: str) -> dict[str, dict]:
    workflow = yaml.safe_load((project / WORKFLOW).read_text("utf-8"))
    return {step.get("name", step.get("uses", step.get("run"))): step
            for step in workflow["jobs"][job]["steps"]}


def test_github_accepts_the_workflow_and_the_send_gets_its_secrets(project: Path) -> None:
    schema_check = shutil.which("check-jsonschema", path=os.path.dirname(sys.executable))
    assert schema_check, "check-jsonschema is a test dependency (pyproject.toml [test])"
    command = [schema_check, "--builtin-schema", "vendor.github-workflows"]
    done = subprocess.run([*command, project / WORKFLOW], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

    workflow = yaml.safe_load((project / WORKFLOW).read_text("utf-8"))
    assert workflow["jobs"]["send"]["env"] == {
        name: f"${{{{ secrets.{name} }}}}"
        for name in ("MAILER_SMTP_PASSWORD", "MAILER_UNSUBSCRIBE_SECRET")
    }
    review = "\n".join(step.get("run", "") for step in workflow["jobs"]["review"]["steps"])
    assert "mailer check" in review and "mailer preview" in review and "--publish review" in review
    assert "mailer send \"$issue\" --yes" in steps(project, "send")[
        "Send each issue whose send_at has come"]["run"]

    for job in workflow["jobs"].values():  # every script at least parses as bash
        for step in job["steps"]:
            if "run" in step:
                parsed = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True)
                assert parsed.returncode == 0, (step, parsed.stderr)

    broken = project / "broken.yml"  # the same check refuses a workflow GitHub would
    broken.write_text((project / WORKFLOW).read_text("utf-8").replace("runs-on:", "runs_on:"))
    assert subprocess.run([*command, broken], capture_output=True).returncode != 0


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_ledger_is_kept_between_runs_as_one_commit(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Editor")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "editor@example.org")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # none of this machine's git settings
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    send = steps(project, "send")
    restore = send["Bring back the ledger and the suppression list"]["run"]
    keep_step = send["Keep the ledger and the suppression list for the next run"]
    assert keep_step["if"] == "always() && steps.restore.outcome == 'success'"
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), "first")
    first = tmp_path / "first"
    shutil.copy(project / ".gitignore", first / ".gitignore")
    git(first, "add", "-A")
    git(first, "commit", "-qm", "The project")
    git(first, "push", "-q", "origin", "HEAD:main")

    def run(script: str, folder: Path) -> subprocess.CompletedProcess:
        environment = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_RUN_ID": "7"}
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=folder, env=environment, capture_output=True, text=True)

    assert run(restore, first).returncode == 0  # no branch yet: the first send
    (first / ".mailer").mkdir()
    for round_ in ("one", "two"):
        (first / ".mailer" / "ledger.sqlite3").write_text(f"ledger {round_}")
        (first / ".mailer" / "suppressions.sqlite3").write_text(f"store {round_}")
        (first / ".mailer" / "ledger.sqlite3.lock").write_text("")
        done = run(keep_step["run"], first)
        assert done.returncode == 0, done.stderr
    assert git(origin, "rev-list", "--count", "mailer-state") == "1"  # no history to erase
    assert git(origin, "ls-tree", "-r", "--name-only", "mailer-state").split() == [
        ".mailer/ledger.sqlite3", ".mailer/suppressions.sqlite3",
    ]

    git(tmp_path, "clone", "-q", str(origin), "next")  # the next run, on a fresh runner
    following = tmp_path / "next"
    done = run(restore, following)
    assert done.returncode == 0, done.stderr
    assert (following / ".mailer" / "ledger.sqlite3").read_text() == "ledger two"
    assert (following / ".mailer" / "suppressions.sqlite3").read_text() == "store two"
    assert git(following, "status", "--porcelain") == ""  # main's checkout is untouched

    git(following, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    assert run(restore, following).returncode != 0  # unreachable: stop, never send afresh


def test_the_scheduled_job_sends_due_issues_and_never_a_sent_one_again(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send step's script as the runner runs it, with the real mailer: the issue already
    sent is not sent again to the readers who subscribed since; the one due is sent."""
    script = steps(project, "send")["Send each issue whose send_at has come"]["run"]
    sent = make_project(tmp_path / "news")
    sent.write_text(ISSUE.lstrip() + "send_at: 2026-01-15T09:00+03:00\n", encoding="utf-8")
    due = sent.with_name("due.yaml")
    due.write_text(sent.read_text("utf-8").replace("id: send-test", "id: due"), "utf-8")
    listed = tmp_path / "news" / "subscribers.example.csv"
    write_subscribers(listed, 3)
    monkeypatch.chdir(tmp_path / "news")
    assert mailer("send", sent, "--yes")[0] == 0
    write_subscribers(listed, 5)  # two more readers subscribe after that send

    environment = {
        **os.environ, "RUNNER_TEMP": str(tmp_path),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
    }
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=tmp_path / "news", env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "issues/send-test.yaml: sent already" in done.stdout
    assert "Issue:     due (issues/due.yaml)" in done.stdout
    assert "Done: sent 5 now" in done.stdout
    assert len(list((tmp_path / "news" / "outbox" / "new").iterdir())) == 3 + 5
