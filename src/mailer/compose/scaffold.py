"""``mailer new``: a fresh issue file from the commented template shipped with mailer."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from mailer.console import Console
from mailer.errors import MailerError


def create(path: Path, console: Console) -> None:
    """Write the template to ``path``; an existing file is never touched (``open(..., "x")``)."""
    if path.suffix not in (".yaml", ".yml"):
        raise MailerError(f"{path}: an issue file name ends in .yaml")
    issue_id = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "new-issue"
    scaffold = resources.files("mailer.compose").joinpath("scaffold.yaml")
    template = scaffold.read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise MailerError(f"cannot create {path}: {exc.filename} is a file, not a folder") from None
    except OSError as exc:
        raise MailerError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with open(path, "x", encoding="utf-8") as file:
            file.write(template.replace("ISSUE_ID", issue_id))
    except FileExistsError:
        message = f"{path} already exists; choose another name (nothing was changed)"
        raise MailerError(message) from None
    except OSError as exc:
        raise MailerError(f"cannot create {path}: {exc.strerror}") from None
    console.say(f"Created {path}. Edit it, then run: mailer preview {path}")
