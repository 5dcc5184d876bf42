"""The package as someone outside this repository gets it: the wheel, built and installed into a
fresh virtual environment, starts a project with ``mailer init`` in an empty folder, and that
project previews, checks and sends to its outbox. Nothing comes from the repository but the
wheel: the theme the email is made with is the one inside the package.

Installing the dependencies into the fresh environment comes from the package index (pip's
cache makes it quick after the first time); it takes about a minute.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIRST_ISSUE = "issues/first-issue.yaml"
BUILD_LITTER = (
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mailer", "out", "outbox",
)


def run(
    *args: str | Path, cwd: Path, timeout: float = 600, exit_code: int = 0, stderr: bool = False,
) -> str:
    """The command's standard output (and its standard error after it, with ``stderr``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MAILER_"))}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert result.returncode == exit_code, f"{args}: exit {result.returncode}\n" \
        f"{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr if stderr else result.stdout


@pytest.mark.slow
def test_a_fresh_install_starts_previews_checks_and_sends_a_project(tmp_path):
    # Built from a copy of the working tree: a build in place would reuse build/ from earlier
    # builds, which can still hold files since deleted.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*BUILD_LITTER))
    dist = tmp_path / "dist"
    # Not quiet: pip shows the build backend's warnings (a deprecated license form, a data
    # folder setuptools takes for a package), and there must be none.
    built = run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-w", dist,
                cwd=tmp_path, stderr=True)
    assert not re.findall(r"\b[A-Z]\w*Warning\b", built), built
    # The distribution is newsletter-as-code (PyPI's "mailer" is someone else's); the command
    # it installs is mailer.
    (wheel,) = dist.glob("newsletter_as_code-*.whl")
    version = wheel.name.split("-")[1]
    fresh = tmp_path / "venv"
    # Without pip of its own (this pip installs into it) and without compiling every module
    # of every dependency ahead: the commands below import what they need.
    run(sys.executable, "-m", "venv", "--without-pip", fresh, cwd=tmp_path)
    run(sys.executable, "-m", "pip", "--python", fresh / "bin" / "python", "install", "--quiet",
        "--no-compile", wheel, cwd=tmp_path)

    python, mailer = fresh / "bin" / "python", fresh / "bin" / "mailer"
    assert run(mailer, "--version", cwd=tmp_path) == f"mailer {version} (newsletter-as-code)\n"
    licence = run(python, "-c", "from importlib.metadata import metadata; "
                  "print(metadata('newsletter-as-code')['License-Expression'])", cwd=tmp_path)
    assert licence.strip() == "MIT"
    theme = run(python, "-c", "from mailer.compose.theme import default_folder; "
                "print(default_folder())", cwd=tmp_path).strip()
    assert Path(theme).is_relative_to(fresh) and not Path(theme).is_relative_to(ROOT)

    work = tmp_path / "elsewhere"
    work.mkdir()
    run(mailer, "init", "news", cwd=work)
    project = work / "news"
    run(mailer, "preview", FIRST_ISSUE, "--no-serve", cwd=project)
    html = (project / "out" / "first-issue" / "index.html").read_text("utf-8")
    assert "One file per issue, one look for every issue" in html
    assert (project / "out" / "first-issue" / "images" / "website.png").is_file()  # an icon
    # The sample logo and photo are placeholders, known by the bytes the wheel ships.
    report = run(mailer, "check", FIRST_ISSUE, "--offline", cwd=project, exit_code=1)
    assert ": 2 errors," in report.splitlines()[0], report
    assert "is the sample logo" in report and "is the sample photo" in report, report
    assets = project / "issues" / "assets"
    Image.new("RGBA", (320, 96), (255, 255, 255, 0)).save(assets / "logo.png")
    Image.new("RGB", (600, 400), "#6A8CAF").save(assets / "photo.png")
    report = run(mailer, "check", FIRST_ISSUE, "--offline", cwd=project)
    assert ": 0 errors," in report.splitlines()[0], report
    run(mailer, "send", FIRST_ISSUE, "--yes", cwd=project)
    assert len(mailbox.Maildir(project / "outbox", create=False)) == 2
