"""The theme an issue is rendered with: its templates, template words, social networks and icons.

The default theme ships inside the package as ``mailer.theme``; in the repository it is the
top-level ``templates/`` folder, which the package build installs under that name (see
``pyproject.toml``). A project's own ``templates/`` folder beside ``mailer.toml`` overrides it
file by file: a project that only wants other words copies ``labels.toml`` and nothing else.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mailer.errors import InputError, Location, ThemeError
from mailer.fields import language_keys

PROJECT_FOLDER = "templates"
HTML_TEMPLATE = "newsletter.mjml.j2"
TEXT_TEMPLATE = "newsletter.txt.j2"
LABELS_FILE = "labels.toml"
NETWORKS_FILE = "social.toml"
ICONS_FOLDER = "icons"


def default_folder() -> Path:
    """The theme that ships with mailer (the repository's ``templates/``)."""
    return Path(str(resources.files("mailer.theme")))


@dataclass(frozen=True)
class Theme:
    """The folders a theme file is looked up in, the project's own first."""

    folders: tuple[Path, ...]

    def find(self, name: str) -> Path | None:
        """The file ``name`` (such as ``icons/x.png``) from the first folder that has it."""
        for folder in self.folders:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        return None

    def path(self, name: str) -> Path:
        """Like :meth:`find`, but a missing file is an error naming every folder looked in."""
        found = self.find(name)
        if found is None:
            looked = " or ".join(str(folder) for folder in self.folders)
            raise ThemeError(f"the theme has no {name} (looked in {looked})")
        return found

    @property
    def project_folder(self) -> Path | None:
        """The project's own ``templates/``, when it has one."""
        return self.folders[0] if len(self.folders) > 1 else None

    def read_toml(self, name: str) -> dict:
        """The theme's TOML file ``name``, read once while it is unchanged (the words of
        several languages come from one labels.toml); not to be changed by the caller."""
        path = self.path(name)
        try:
            stat = path.stat()
            return _read_toml(path, stat.st_mtime_ns, stat.st_size)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(Location(path), f"cannot read the theme's {name} ({exc})") from None

    def network_names(self, language: str = "") -> dict[str, str]:
        """``facebook -> Facebook``: the networks ``social.toml`` names, in ``language`` where
        its ``[names.<language>]`` table names one ("website" is "الموقع" in Arabic)."""
        data = self.read_toml(NETWORKS_FILE)
        networks = data.get("networks", {})
        names = {str(key): str(value) for key, value in networks.items()}
        translated = data.get("names", {})
        for key in reversed(language_keys(language) if language else []):
            names.update({str(k): str(v) for k, v in translated.get(key, {}).items()})
        return names

    def icon(self, network: str) -> Path | None:
        return self.find(f"{ICONS_FOLDER}/{network}.png")


@lru_cache(maxsize=32)
def _read_toml(path: Path, mtime_ns: int, size: int) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def theme_for(project: Path) -> Theme:
    """The theme of the project whose ``mailer.toml`` is in ``project``."""
    own = project / PROJECT_FOLDER
    default = default_folder()
    if own.is_dir() and own.resolve() != default.resolve():
        return Theme((own, default))
    return Theme((default,))
