"""Where the email's images come from: embedded parts, a published folder, preview files, or
the newsletter's site.

The renderer asks one of these for the URL of each local image; the same issue can so be
rendered for sending (``cid:`` parts or ``image_base_url``), for the local preview and for
its page on the site (``mailer archive``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class InlineImage:
    """A local image that travels inside the message as a ``multipart/related`` part."""

    path: Path
    content_id: str  # without angle brackets
    mime_type: str
    filename: str


class ImageLinker(Protocol):
    def url_for(self, path: Path) -> str:
        """The URL the HTML uses for the local image file ``path``."""


# A Content-ID is an addr-spec: keep file names to characters every client accepts there.
_UNSAFE_IN_ID = re.compile(r"[^A-Za-z0-9._-]+")


def _short_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class EmbeddedImages:
    """Local images become ``cid:`` references to inline parts of the message."""

    def __init__(self, domain: str) -> None:
        self._domain = domain
        self._by_path: dict[Path, InlineImage] = {}

    def url_for(self, path: Path) -> str:
        image = self._by_path.get(path)
        if image is None:
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            safe_stem = _UNSAFE_IN_ID.sub("-", path.stem) or "image"
            content_id = f"{safe_stem}.{_short_hash(path)}@{self._domain}"
            image = InlineImage(path, content_id, mime, path.name)
            self._by_path[path] = image
        return f"cid:{image.content_id}"

    @property
    def images(self) -> tuple[InlineImage, ...]:
        return tuple(self._by_path.values())


class PublishedImages:
    """Local images are expected to be published under ``base_url`` by file name."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/") + "/"

    def url_for(self, path: Path) -> str:
        return self._base + path.name


class PreviewImages:
    """Local images are copied next to the preview's ``index.html`` and linked relatively."""

    def __init__(self, out_dir: Path) -> None:
        self._folder = out_dir / "images"

    def url_for(self, path: Path) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        target = self._folder / path.name
        if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
            shutil.copy2(path, target)
        return f"images/{path.name}"


class SiteImages:
    """Local images go into the site's one ``images/`` folder, each named by its content
    (``photo.0f3a9c1b2d4e.png``): the logo and icons every issue shows are there once, two
    different files called ``photo.png`` never meet, and a file's name changes with it.

    ``root`` leads from the page to the site's root (``../`` for ``<id>/``); ``files`` maps
    each image's place in the site to its file, for the site builder to copy.
    """

    FOLDER = "images"

    def __init__(self, root: str) -> None:
        self._root = root
        self.files: dict[str, Path] = {}

    def url_for(self, path: Path) -> str:
        name = f"{_UNSAFE_IN_ID.sub('-', path.stem) or 'image'}.{_short_hash(path)}{path.suffix}"
        place = f"{self.FOLDER}/{name}"
        self.files[place] = path
        return self._root + place
