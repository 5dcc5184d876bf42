"""``[send] require = "committed"``: send exactly what was reviewed and merged, nothing else.

An issue is reviewed in a pull request; once merged, what ``mailer send`` sends must be those
bytes. So before a real send, every file that makes the messages (the issue and its editions,
the images they use, the logos, the project's theme files, ``mailer.toml``) must be as the
repository's last commit (``HEAD``) has it: a file changed since, added but not committed,
untracked or ignored by git stops the send, naming each. The commit is then recorded in every
ledger row of the send (``mailer status`` shows it, the archive page names it).

Git is asked through its own command (``git status --porcelain -z``), which every platform
has and which reads the index the way git itself does; the project may be a subfolder of the
repository. Outside a repository (or without git) the setting is an error, never a silent
pass: it promises something that could then not be kept.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from mailer.compose.editions import Editions
from mailer.compose.issue import images_with_paths
from mailer.compose.theme import theme_for
from mailer.errors import ConfigError, InputError
from mailer.settings import LoadedSettings, toml_location

REQUIRED = 'require = "committed"'
GIT_TIMEOUT = 60  # seconds: a status of a large repository on a slow disk


def sent_files(editions: Editions) -> list[Path]:
    """Every file the messages of ``editions`` are made from, the theme as its folder."""
    settings = editions.default.settings
    files = [settings.path]
    for loaded in editions.chosen:
        files.append(loaded.path)
        files.extend(
            loaded.image_path(image)
            for _, image in images_with_paths(loaded.issue) if not image.is_remote
        )
        files.extend(logo for name in ("logo", "logo_dark")
                     if (logo := loaded.logo_path(name)) is not None)
    theme = theme_for(settings.base_dir).project_folder
    if theme is not None:
        files.append(theme)
    return sorted({path.resolve() for path in files})


def committed(editions: Editions) -> str:
    """The commit (HEAD's full id) that holds every file of :func:`sent_files` as it is now.

    UsageError naming every file that differs from it (changed, not committed, untracked or
    ignored by git); ConfigError when the project is not in a git repository, git is missing
    or the repository has no commit yet.
    """
    settings = editions.default.settings
    git = _Git(settings)
    top = Path(git.run("rev-parse", "--show-toplevel").decode().strip()).resolve()
    head = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", what="has no commit yet")
    commit = head.decode().strip()
    files = sent_files(editions)
    outside = [path for path in files if not path.is_relative_to(top)]
    if outside:
        raise git.error(
            f"{_shown(outside)} {'is' if len(outside) == 1 else 'are'} outside the git "
            f"repository {top}, so no commit can hold {'it' if len(outside) == 1 else 'them'}"
        )
    status = git.run(
        "status", "--porcelain", "-z", "--untracked-files=all", "--ignored", "--",
        *(str(path) for path in files),
    )
    theme = theme_for(settings.base_dir).project_folder
    differing = [
        f"{_shown([top / name])} ({state})" for name, state in _entries(status)
        if not _hidden_in(theme, top / name)
    ]
    if differing:
        raise InputError(
            git.where,
            f'"committed", and {len(differing)} file(s) of this send differ from the last '
            f"commit ({commit[:12]}): {', '.join(differing)}; commit them (after review), or "
            "undo the changes, and send again",
            "send.require",
        )
    return commit


# What desktops leave in folders, which no template can mean: any other file in the theme's
# folder, hidden or not, may be one a template includes, and so is held to "committed".
DESKTOP_LITTER = re.compile(r"\.DS_Store|\._.+|Thumbs\.db|desktop\.ini", re.IGNORECASE)


def _hidden_in(theme: Path | None, path: Path) -> bool:
    """A desktop's file in the theme's folder (``.DS_Store``): never a theme file."""
    return theme is not None and DESKTOP_LITTER.fullmatch(path.name) is not None and (
        path.is_relative_to(theme.resolve())
    )


def _entries(status: bytes) -> Iterator[tuple[str, str]]:
    """(path from the repository's top, what is wrong with it) of ``git status --porcelain
    -z``: ``XY PATH``, and after a rename or copy the old path, as its own field."""
    fields = iter(status.split(b"\0"))
    for field in fields:
        if not field:
            continue
        code, name = field[:2].decode(), os.fsdecode(field[3:])
        if "R" in code or "C" in code:
            next(fields, None)  # the path it was renamed or copied from
        if code == "??":
            yield name, "untracked"
        elif code == "!!":
            yield name, "ignored by git"
        elif code[0] == "A":
            yield name, "added, not committed"
        elif "D" in code:
            yield name, "deleted"
        else:
            yield name, "changed"


def _shown(paths: Iterable[Path]) -> str:
    """Paths as a person types them here: relative to the current folder when inside it."""
    here = Path.cwd().resolve()
    return ", ".join(
        str(path.relative_to(here)) if path.is_relative_to(here) else str(path) for path in paths
    )


class _Git:
    """The ``git`` command, run in the project's folder."""

    def __init__(self, settings: LoadedSettings) -> None:
        self.folder = settings.base_dir
        self.where = toml_location(settings.path, "send", "require")

    def error(self, why: str) -> ConfigError:
        return ConfigError(self.where, f"{REQUIRED} sends only committed files, but {why}",
                           "send.require")

    def run(self, *args: str, what: str = "") -> bytes:
        """git's standard output; ConfigError when git is missing or says no."""
        environment = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                ["git", *args], cwd=self.folder, capture_output=True, env=environment,
                timeout=GIT_TIMEOUT, check=False,
            )
        except FileNotFoundError:
            raise self.error("git is not installed (or not on the PATH)") from None
        except subprocess.TimeoutExpired:
            raise self.error(f"git did not answer in {GIT_TIMEOUT} s") from None
        if done.returncode == 0:
            return done.stdout
        said = done.stderr.decode(errors="replace").strip().splitlines()
        if what:
            raise self.error(f"the git repository of {self.folder} {what}")
        if said and "not a git repository" in said[0]:
            raise self.error(f"{self.folder} is not in a git repository")
        raise self.error(f"git {args[0]} failed: {said[-1] if said else done.returncode}")
