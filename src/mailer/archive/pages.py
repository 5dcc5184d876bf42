"""The site's pages: each edition of an issue in the email's design, and each language's index.

An issue's page is :func:`mailer.compose.render.render_page` (the email as a web page, merge
fields at their defaults, nothing of a reader's own) with the site's additions from the
theme's ``site.html.j2``: in the head, the page's published address, its other editions
(``hreflang``) and its language's feed; above the email, a bar back to the index and to the
other editions. The feeds carry the same HTML without either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mailer.archive.cache import ArchiveCache, Edition, IssueEntry
from mailer.archive.files import record
from mailer.archive.site import Site, relative_root
from mailer.compose.editions import Editions, normalise_tag
from mailer.compose.images import ImageLinker, PublishedImages, SiteImages
from mailer.compose.issue import LoadedIssue
from mailer.compose.merge import for_nobody
from mailer.compose.render import render_page
from mailer.compose.site import edition_of
from mailer.fields import direction_of

_BODY = re.compile(r"<body[^>]*>")
_BODY_END = "</body>"
_COMMENT = re.compile(r"<!--.*?-->", re.S)  # Outlook's conditional tables: nothing for a feed


def describe(editions: Editions, files: tuple[str, ...]) -> IssueEntry:
    """What the site needs of each edition of a loaded issue; nothing rendered yet."""
    sources = {path: record(Path(path)) for path in files}
    return IssueEntry(files, sources, tuple(_edition(loaded) for loaded in editions.chosen))


def _edition(loaded: LoadedIssue) -> Edition:
    issue = loaded.issue
    return Edition(
        issue_id=issue.id,
        language=normalise_tag(issue.language),
        direction=issue.text_direction,
        default=edition_of(loaded) is None,
        subject=for_nobody(issue.subject),
        preheader=for_nobody(issue.preheader or ""),
        period=issue.period or "",
        date=issue.date.isoformat() if issue.date else None,
        archive=issue.archive,
    )


def render(entry: IssueEntry, editions: Editions, site: Site, cache: ArchiveCache) -> IssueEntry:
    """``entry`` with the page and the feed content of each published edition, kept in
    ``cache``, and the images they show among its sources."""
    pages = {edition.language: edition.path for edition in entry.published}
    default = next((e.path for e in entry.published if e.default), None)
    sources = dict(entry.sources)
    done = []
    for edition, loaded in zip(entry.editions, editions.chosen, strict=True):
        if not edition.archive:
            done.append(edition)
            continue
        linker, images = _images(loaded, relative_root(edition.path))
        html = render_page(loaded, linker)
        chrome = _Chrome(site, edition, loaded, pages, default)
        page, content = chrome.page(html), feed_content(html)
        sources.update((str(path), record(path)) for path in images.values())
        done.append(replace(
            edition, page=cache.store(page.encode()), content=cache.store(content.encode()),
            images={place: str(path) for place, path in sorted(images.items())},
        ))
    return IssueEntry(entry.files, sources, tuple(done))


def _images(loaded: LoadedIssue, root: str) -> tuple[ImageLinker, dict[str, Path]]:
    """Where the page's local images come from: where the emails had them, when they are
    hosted (``[send] image_base_url``), else copies in the site (the dict, filled while the
    page is rendered: each image's place in the site and its file)."""
    hosted = loaded.settings.settings.send.image_base_url
    if hosted:
        return PublishedImages(hosted), {}
    linker = SiteImages(root)
    return linker, linker.files


def with_source(page: bytes, source: str, commits: tuple[str, ...]) -> bytes:
    """``page`` with a comment first in its head naming the issue's file and the git commits
    it was sent from (``[send] require = "committed"``): who reads the page's source can find
    the very bytes that were reviewed."""
    named = source.replace("--", "- -")  # a comment cannot hold "--"
    comment = f"\n<!-- {named}, sent from commit {', '.join(commits)} -->".encode()
    head = page.find(b"<head>")
    if head < 0:
        return comment.lstrip() + b"\n" + page
    return page[: head + 6] + comment + page[head + 6 :]


def feed_content(html: str) -> str:
    """The email's body for a feed entry: what a feed reader shows (it drops the head's styles
    anyway), without the comments Outlook's layout hides in."""
    start = _BODY.search(html)
    body = html[start.end() : html.rindex(_BODY_END)] if start else html
    return _COMMENT.sub("", body).strip()


@dataclass(frozen=True)
class _Chrome:
    """The site's additions to one edition's page."""

    site: Site
    edition: Edition
    loaded: LoadedIssue
    pages: dict[str, str]  # language -> the page of the issue's edition in it
    default: str | None  # the default edition's page, for hreflang="x-default"

    def page(self, html: str) -> str:
        edition, site = self.edition, self.site
        root = relative_root(edition.path)
        alternates = []
        if len(self.pages) > 1:
            alternates = [
                {"hreflang": lang, "url": site.url(path)}
                for lang, path in sorted(self.pages.items())
            ]
            if self.default:
                alternates.append({"hreflang": "x-default", "url": site.url(self.default)})
        page = {
            "url": site.url(edition.path),
            "alternates": alternates,
            "feed": root + site.feed_path(edition.language),
            "index": root + site.index_path(edition.language),
            "description": edition.preheader,
            "languages": site.languages_of(edition.language, self.pages, root),
        }
        context = site.context(edition.language, self.loaded.brand)
        module: Any = site.template().make_module(context)  # its macros are its attributes
        head, bar = str(module.page_head(page)), str(module.page_bar(page))  # not Markup:
        # joined to a plain str, Markup would escape the email's HTML
        html = html.replace("</head>", f"{head}</head>", 1)
        start = _BODY.search(html)
        return html if start is None else html[: start.end()] + bar + html[start.end() :]


@dataclass(frozen=True)
class Listed:
    """An issue on an index: the edition shown, and its place in the site."""

    edition: Edition
    href: str  # relative to the index


def index_page(site: Site, language: str, listed: list[Listed], languages: list[str]) -> str:
    """The index of ``language``: ``listed`` newest first, with the feed to follow them."""
    path = site.index_path(language)
    root = relative_root(path)
    alternates = []
    if len(languages) > 1:
        alternates = [
            {"hreflang": lang, "url": site.url(site.index_path(lang))} for lang in languages
        ]
        alternates.append({"hreflang": "x-default", "url": site.url("")})
    index = {
        "language": language,
        "direction": direction_of(language),
        "url": site.url(path),
        "alternates": alternates,
        "feed": root + site.feed_path(language),
        "languages": site.languages_of(
            language, {lang: site.index_path(lang) for lang in languages}, root
        ),
        "entries": [
            {
                "href": item.href, "subject": item.edition.subject,
                "preheader": item.edition.preheader,
                "period": item.edition.period or item.edition.date or "",
                "language": item.edition.language, "direction": item.edition.direction,
            }
            for item in listed
        ],
    }
    module: Any = site.template().make_module(site.context(language))  # as above
    return str(module.index_page(index)).strip() + "\n"
