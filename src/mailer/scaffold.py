"""``mailer new``: a fresh issue file from the commented template shipped with mailer."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from mailer.errors import MailerError


def create(path: Path) -> None:
    if path.suffix not in (".yaml", ".yml"):
        raise MailerError(f"{path}: an issue file name ends in .yaml")
    if path.exists():
        raise MailerError(f"{path} already exists; choose another name (nothing was changed)")
    issue_id = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "new-issue"
    template = resources.files("mailer").joinpath("scaffold.yaml").read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template.replace("ISSUE_ID", issue_id), encoding="utf-8")
