"""``mailer new``: a fresh issue file from the commented template shipped with mailer;
``mailer init``: a new newsletter project from the sample project shipped with it."""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from mailer.console import Console, command_line
from mailer.errors import UsageError, WriteFailed


def create(path: Path, console: Console) -> None:
    """Write the template to ``path``; an existing file is never touched (``open(..., "x")``)."""
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path}: an issue file name ends in .yaml")
    issue_id = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "new-issue"
    scaffold = resources.files("mailer.compose").joinpath("scaffold.yaml")
    template = scaffold.read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.filename} is a file, not a folder") from None
    except OSError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.strerror}") from None
    try:
        with open(path, "x", encoding="utf-8") as file:
            file.write(template.replace("ISSUE_ID", issue_id))
    except FileExistsError:
        message = f"{path} already exists; choose another name (nothing was changed)"
        raise WriteFailed(message) from None
    except OSError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.strerror}") from None
    console.say(f"Created {path}. Edit it, then run: {command_line('preview', path)}")


# The sample project (src/mailer/compose/starter/): a name there -> its name in the project.
STARTER_FILES = {
    "mailer.toml": "mailer.toml",
    "subscribers.csv": "subscribers.csv",
    "gitignore": ".gitignore",  # stored without the dot, which packaging tools may drop
    "issues/first-issue.yaml": "issues/first-issue.yaml",
    "issues/assets/logo.png": "issues/assets/logo.png",
    "issues/assets/photo.png": "issues/assets/photo.png",
}
FIRST_ISSUE = "issues/first-issue.yaml"


def start_project(folder: Path, console: Console) -> None:
    """Write a new newsletter project into ``folder`` (new or empty): mailer.toml with
    comments, a sample issue with placeholder images, a subscriber list and a .gitignore.
    The templates are mailer's own until the project adds a ``templates/`` of its own."""
    if folder.exists() and not folder.is_dir():
        raise WriteFailed(f"cannot start a project in {folder}: it is a file")
    if folder.is_dir() and any(folder.iterdir()):
        raise WriteFailed(
            f"{folder} is not empty; mailer init starts a project in a new or empty folder "
            "(nothing was changed)"
        )
    starter = resources.files("mailer.compose").joinpath("starter")
    try:
        for source, target in STARTER_FILES.items():
            path = folder / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_read(starter, source))
    except OSError as exc:
        raise WriteFailed(f"cannot write the project in {folder}: {exc.strerror}") from None
    console.say(
        f"Started a newsletter project in {folder}. Put your organisation's details in "
        f"{folder / 'mailer.toml'} and its logo and a photo of your own in place of the "
        f"placeholders in {folder / 'issues' / 'assets'}, then, in {folder}:\n"
        f"  {command_line('preview', FIRST_ISSUE)}\n"
        f"  {command_line('check', FIRST_ISSUE)}\n"
        f"  {command_line('send', FIRST_ISSUE)}    (to the outbox/ folder until you set a "
        "transport)"
    )


def _read(starter: Traversable, name: str) -> bytes:
    node = starter
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()
