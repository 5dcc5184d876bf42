"""What git knows about the lines of a file: the commit that last changed each of them.

``mailer check`` asks it of an issue and its editions, to tell a translation made before the
default's text last changed (:mod:`mailer.compose.translations`). One ``git blame`` reads a
whole file, and one ``git rev-list`` the ancestry, whatever the number of fields asked about.

A line changed and not committed yet is changed *now* (:data:`NOW`). A file outside a git
work tree, not tracked, or a machine without git gives no history (None), never an error:
the translations fall back to the fingerprints ``mailer translate`` keeps.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

NOW = "0" * 40  # git blame's name for a line not committed yet


@dataclass(frozen=True)
class Commit:
    sha: str
    when: datetime.datetime  # the author's date, in the author's time zone

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class Blame:
    """The commit of every line of a file (``lines[0]`` is line 1's)."""

    lines: tuple[str, ...]
    commits: dict[str, Commit]

    def of(self, lines: Iterable[int]) -> set[str]:
        """The commits that last changed ``lines`` (1-based), :data:`NOW` for one changed
        and not committed."""
        return {self.lines[number - 1] for number in lines if 0 < number <= len(self.lines)}


@dataclass
class History:
    """The commits of the repository a file is in: whether one is an ancestor of another."""

    folder: Path
    _parents: dict[str, tuple[str, ...]] | None = None
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict)

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether ``older`` is ``newer`` or one of its ancestors (``newer`` was made with
        ``older``'s change in its past). What is not committed yet comes after every commit.
        """
        if older == newer or newer == NOW:
            return True
        if older == NOW:
            return False
        if newer not in self._ancestors:
            self._ancestors[newer] = self._reach(newer)
        return older in self._ancestors[newer]

    def _reach(self, start: str) -> frozenset[str]:
        if self._parents is None:
            out = _git(self.folder, "rev-list", "--parents", "HEAD") or ""
            self._parents = {
                line.split()[0]: tuple(line.split()[1:]) for line in out.splitlines() if line
            }
        seen: set[str] = set()
        todo = [start]
        while todo:
            sha = todo.pop()
            if sha not in seen:
                seen.add(sha)
                todo.extend(self._parents.get(sha, ()))
        return frozenset(seen)


def blame(path: Path) -> Blame | None:
    """The commit of every line of ``path`` as it is on disk (uncommitted lines: :data:`NOW`);
    None when git has no history of it."""
    out = _git(path.parent, "blame", "--porcelain", "--", path.name)
    if out is None:
        return None
    lines: list[str] = []
    commits: dict[str, Commit] = {}
    sha, stamp = "", 0
    for line in out.splitlines():
        if line.startswith("\t"):
            lines.append(sha)
            continue
        word, _, rest = line.partition(" ")
        if len(word) == 40 and rest[:1].isdigit():
            sha = word
        elif word == "author-time":
            stamp = int(rest)
        elif word == "author-tz":
            sign = -1 if rest.startswith("-") else 1
            offset = datetime.timedelta(hours=int(rest[1:3]), minutes=int(rest[3:5])) * sign
            when = datetime.datetime.fromtimestamp(stamp, datetime.timezone(offset))
            commits.setdefault(sha, Commit(sha, when))
    return Blame(tuple(lines), commits)


def tracked(path: Path) -> bool:
    """Whether ``path`` is in a git repository and tracked (committed or added)."""
    return _git(path.parent, "ls-files", "--error-unmatch", "--", path.name) is not None


def _git(folder: Path, *args: str) -> str | None:
    """The output of ``git ARGS`` run in ``folder``, or None if git failed or is missing."""
    environment = {**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, encoding="utf-8",
            errors="replace", env=environment, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
