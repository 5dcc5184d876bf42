"""Shared fixtures: a throwaway newsletter project that tests can write issues into."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


class Project:
    """A folder with mailer.toml, templates/ and an assets/ folder, like a real project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = root / "mailer.toml"

    def write_issue(self, text: str, name: str = "issue.yaml") -> Path:
        path = self.root / "issues" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "newsletter"
    root.mkdir()
    shutil.copytree(REPO / "templates", root / "templates")
    assets = root / "issues" / "assets"
    assets.mkdir(parents=True)
    Image.new("RGB", (320, 96), "#0033A0").save(assets / "iom-logo.png")
    Image.new("RGB", (600, 400), "#8899AA").save(assets / "photo.png")
    shutil.copy(REPO / "mailer.toml", root / "mailer.toml")
    return Project(root)
