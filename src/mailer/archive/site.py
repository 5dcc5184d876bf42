"""The site as a whole: its address, its languages and where each of its files lives.

The site's own language is ``[list] language``: its index is the site's root and its feed
``feed.xml``, and both list every issue (in that language where the issue has an edition in
it, else in the issue's default language). Every other language that some edition is written
in gets ``<lang>/`` and ``feed.<lang>.xml``, listing the issues that have an edition in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from jinja2 import Template

from mailer.compose.editions import normalise_tag
from mailer.compose.images import SiteImages
from mailer.compose.palette import palettes
from mailer.compose.render import theme_template
from mailer.compose.theme import Theme, theme_for
from mailer.compose.wording import labels_for, language_name
from mailer.errors import ConfigError
from mailer.fields import direction_of
from mailer.settings import Brand, LoadedSettings, toml_location

SITE_TEMPLATE = "site.html.j2"
SITEMAP = "sitemap.xml"
INDEX = "index.html"


@dataclass(frozen=True)
class Site:
    """What every page of the site shares; made once per build."""

    settings: LoadedSettings
    base_url: str
    language: str  # normalised: the root index and feed.xml
    theme: Theme
    _labels: dict[str, dict[str, str]] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: LoadedSettings) -> Site:
        """The site of ``settings``; ConfigError, at its line, without ``[archive] base_url``."""
        base_url = settings.settings.archive.base_url
        if base_url is None:
            raise ConfigError(
                toml_location(settings.path, "archive", "base_url"),
                "mailer archive needs the address the site is published at, such as "
                '[archive] base_url = "https://news.example.org/" (the feeds and the sitemap '
                "name every page by its full address)",
                "archive.base_url",
            )
        return cls(
            settings, base_url, normalise_tag(settings.settings.list.language),
            theme_for(settings.base_dir),
        )

    @property
    def name(self) -> str:
        listed = self.settings.settings.list
        return listed.name or self.settings.settings.brand.organisation

    @property
    def list_id(self) -> str:
        return self.settings.settings.list.id

    def url(self, path: str) -> str:
        """The published address of ``path`` (relative to the site's root)."""
        return self.base_url + path

    def index_path(self, language: str) -> str:
        return "" if language == self.language else f"{language}/"

    def feed_path(self, language: str) -> str:
        return "feed.xml" if language == self.language else f"feed.{language}.xml"

    def reserved(self, languages: set[str]) -> set[str]:
        """Names at the site's root that no issue id may take: its files and folders."""
        files = {INDEX, SITEMAP, SiteImages.FOLDER}
        return files | {self.feed_path(lang) for lang in languages} | languages

    def labels(self, language: str) -> dict[str, str]:
        if language not in self._labels:
            organisation = self.settings.settings.brand.organisation
            self._labels[language] = labels_for(self.theme, language, organisation)
        return self._labels[language]

    def language_name(self, language: str) -> str:
        if language not in self._names:
            self._names[language] = language_name(self.theme, language)
        return self._names[language]

    def template(self) -> Template:
        return theme_template(self.theme, self.settings.base_dir, SITE_TEMPLATE)

    def context(self, language: str, brand: Brand | None = None) -> dict:
        """What the site template sees for a page in ``language`` (with the issue's brand,
        which may override the settings' colours)."""
        brand = brand or self.settings.settings.brand
        light, dark = palettes(brand)
        subscribe = self.settings.settings.list.subscribe_url
        return {
            "site": {
                "name": self.name, "organisation": brand.organisation,
                "website": brand.website, "font": brand.font_family,
                "font_size": brand.font_size_px,
                # The sign-up form ([list] subscribe_url), in the page's language.
                "subscribe": f"{subscribe}?lang={quote(language, safe='')}" if subscribe else None,
            },
            "labels": self.labels(language),
            "light": light.as_dict(),
            "dark": dark.as_dict(),
        }

    def languages_of(self, here: str, pages: dict[str, str], root: str) -> list[dict]:
        """The language switcher: ``pages`` maps each language to its page (relative to the
        root), ``here`` is the current one."""
        return [
            {
                "hreflang": lang, "name": self.language_name(lang), "href": root + path or "./",
                "direction": direction_of(lang), "current": lang == here,
            }
            for lang, path in sorted(pages.items(), key=lambda i: (i[0] != self.language, i[0]))
        ]


def relative_root(path: str) -> str:
    """From the page at ``path`` (``2018-03/``, ``2018-03/tr/``, ``tr/``, ``""``) to the root."""
    return "../" * path.count("/")


def project_relative(settings: LoadedSettings, path: Path) -> str:
    """``path`` as the cache records it: relative to mailer.toml's folder when inside it."""
    resolved = path.resolve()
    if resolved.is_relative_to(settings.base_dir):
        return resolved.relative_to(settings.base_dir).as_posix()
    return str(resolved)
