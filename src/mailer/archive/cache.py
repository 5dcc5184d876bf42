"""What ``mailer archive`` remembers between builds (``.mailer/archive/`` beside mailer.toml),
so that an unchanged issue is neither loaded nor rendered again.

``cache.json`` holds, for each issue file, the files its pages were made from (its YAML, its
editions', every image they show), each with its size, modification time and SHA-256, and what
the site needs of each edition: subject, preheader, period, date, and the SHA-256 of its page
and of its feed content, which ``blobs/`` keeps under that name. An entry holds while each of
those files is unchanged (a file whose time changed but not its bytes, as after a checkout,
still is) and while everything every page depends on is too: mailer's own code, the theme and
the settings (:func:`fingerprint`). Like the site, it holds nothing of any reader.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import mailer
from mailer.archive.files import Record, digest, still
from mailer.compose.site import page_path
from mailer.compose.theme import Theme
from mailer.settings import LoadedSettings
from mailer.textfiles import write_whole

FOLDER = Path(".mailer") / "archive"
_INDEX = "cache.json"
_BLOBS = "blobs"
_CODE = ("", "compose", "archive")  # the parts of mailer a page is made by


@dataclass(frozen=True)
class Edition:
    """One edition of an issue as the site shows it, and where its rendered page is kept."""

    issue_id: str
    language: str  # normalised BCP 47 tag
    direction: str
    default: bool  # the issue's default edition, at <id>/
    subject: str
    preheader: str
    period: str
    date: str | None  # the issue's date: field, YYYY-MM-DD
    archive: bool
    page: str | None = None  # SHA-256 of the page, once rendered
    content: str | None = None  # SHA-256 of the HTML the feeds carry
    images: dict[str, str] = field(default_factory=dict)  # place in the site -> image file

    @property
    def path(self) -> str:
        """The page's folder in the site: ``<id>/`` or ``<id>/<lang>/``."""
        return page_path(self.issue_id, None if self.default else self.language)


@dataclass(frozen=True)
class IssueEntry:
    """An issue file with its editions (the default first) and the files they were made from."""

    files: tuple[str, ...]  # the YAML files: the issue's, then its editions'
    sources: dict[str, Record]  # every file read, with the record of its bytes
    editions: tuple[Edition, ...]

    @property
    def issue_id(self) -> str:
        return self.editions[0].issue_id

    @property
    def published(self) -> tuple[Edition, ...]:
        """The editions that go on the site (an edition may say ``archive: false`` alone)."""
        return tuple(edition for edition in self.editions if edition.archive)

    @property
    def rendered(self) -> bool:
        return all(edition.page is not None for edition in self.published)

    def to_json(self) -> dict:
        return {
            "files": list(self.files), "sources": self.sources,
            "editions": [vars(edition) for edition in self.editions],  # not asdict: no copies
        }

    @classmethod
    def from_json(cls, data: dict) -> IssueEntry:
        return cls(
            tuple(data["files"]), dict(data["sources"]),
            tuple(Edition(**edition) for edition in data["editions"]),
        )


def fingerprint(settings: LoadedSettings, theme: Theme) -> str:
    """What every page depends on besides its own files: this mailer's code that makes pages,
    the theme's files and the settings (with the ``MAILER_*`` overrides). When it changes,
    every page is made again."""
    hashed = hashlib.sha256(mailer.__version__.encode())
    package = Path(mailer.__file__).parent
    folders = [*(package / part for part in _CODE), *theme.folders]
    for number, folder in enumerate(folders):
        pattern = "*.py" if number < len(_CODE) else "**/*"
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                hashed.update(f"{number}:{path.relative_to(folder).as_posix()}\0".encode())
                hashed.update(path.read_bytes())
    hashed.update(settings.settings.model_dump_json().encode())
    return hashed.hexdigest()


class ArchiveCache:
    """The entries of the last build that still hold, and the store of rendered pages."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = folder
        self._fingerprint = fingerprint
        self._entries: dict[str, IssueEntry] = {}
        self._fresh: dict[str, bytes] = {}  # blobs made in this build
        self._checked: dict[tuple[str, int, int], bool] = {}  # the logo is in every issue
        try:
            self._saved = (folder / _INDEX).read_bytes()
            data = json.loads(self._saved)
            self._blobs = {path.name for path in (folder / _BLOBS).iterdir()}
        except (OSError, ValueError):
            self._saved, data, self._blobs = b"", {}, set()
        if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
            return
        for key, raw in data.get("issues", {}).items():
            try:
                self._entries[key] = IssueEntry.from_json(raw)
            except (TypeError, KeyError, ValueError):
                continue  # made again

    def get(self, files: tuple[str, ...]) -> IssueEntry | None:
        """The entry of the issue whose YAML files are ``files``, if it still holds."""
        entry = self._entries.get(files[0])
        if entry is None or entry.files != files:
            return None
        if not all(self._unchanged(path, recorded) for path, recorded in entry.sources.items()):
            return None
        blobs = {blob for edition in entry.published for blob in (edition.page, edition.content)}
        return entry if blobs - {None} <= self._blobs else None  # None: not rendered yet

    def _unchanged(self, path: str, recorded: Record) -> bool:
        key = (path, recorded[0], recorded[1])
        if key not in self._checked:
            self._checked[key] = still(Path(path), recorded)
        return self._checked[key]

    def put(self, entry: IssueEntry) -> None:
        self._entries[entry.files[0]] = entry

    def store(self, data: bytes) -> str:
        """Keep ``data`` (a page, a feed content); its name is its SHA-256."""
        name = digest(data)
        self._fresh[name] = data
        return name

    def blob(self, name: str) -> bytes:
        if name in self._fresh:
            return self._fresh[name]
        return (self.folder / _BLOBS / name).read_bytes()

    def save(self, keep: set[str]) -> None:
        """Write the entries of the issue files in ``keep`` (those still in issues/) and their
        blobs, and drop every other blob. A folder that cannot be written only means no cache
        next time, never a failed build."""
        entries = {key: self._entries[key] for key in sorted(keep) if key in self._entries}
        used = {
            blob for entry in entries.values() for edition in entry.editions
            for blob in (edition.page, edition.content) if blob
        }
        blobs = self.folder / _BLOBS
        data = json.dumps({
            "fingerprint": self._fingerprint,
            "issues": {key: entry.to_json() for key, entry in entries.items()},
        }).encode()
        try:
            blobs.mkdir(parents=True, exist_ok=True)
            for name in used - self._blobs:
                write_whole(blobs / name, self._fresh[name])
            for name in self._blobs - used:
                (blobs / name).unlink(missing_ok=True)
            if data != self._saved:
                write_whole(self.folder / _INDEX, data)
        except OSError:
            return
