"""A throwaway newsletter project (settings, templates, images) for tests to write issues into."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from mailer.cli import app

REPO = Path(__file__).resolve().parents[1]

# The organisation's seven social links, exactly as in the seed newsletter (mailer.toml).
SOCIAL_URLS = [
    "https://www.facebook.com/IOM/",
    "https://www.linkedin.com/company/iom",
    "https://twitter.com/unmigration",
    "https://www.instagram.com/unmigration/",
    "https://www.iom.int/",
    "https://www.youtube.com/user/IOMMigration",
    "https://medium.com/@UNmigration",
]


def mailer(*args: object) -> tuple[int, str]:
    """``mailer ARGS`` in this process: its exit status and output. A traceback (any exception
    but the exit itself) fails the test: every error must be one line."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


class Project:
    """A folder with mailer.toml, templates/ and issues/assets/, like a real project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = root / "mailer.toml"

    def write_issue(self, text: str, name: str = "issue.yaml") -> Path:
        path = self.root / "issues" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path


def new_project(root: Path, photo_size: tuple[int, int] = (600, 400)) -> Project:
    """Copy the repository's settings and templates into ``root``; add a logo and a photo."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "templates", root / "templates")
    assets = root / "issues" / "assets"
    assets.mkdir(parents=True)
    Image.new("RGB", (320, 96), "#0033A0").save(assets / "iom-logo.png")
    Image.new("RGB", photo_size, "#8899AA").save(assets / "photo.png")
    shutil.copy(REPO / "mailer.toml", root / "mailer.toml")
    return Project(root)


def position(path: Path, needle: str) -> str:
    """``path:line:column`` of ``needle``, which is once in the file (as errors name places)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    (number,) = [number for number, line in enumerate(lines, start=1) if needle in line]
    return f"{path}:{number}:{lines[number - 1].index(needle) + 1}"
