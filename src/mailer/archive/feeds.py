"""The Atom feeds (RFC 4287) and the sitemap.

A feed per language, like the indexes: ``feed.xml`` in the site's language, ``feed.<lang>.xml``
for each other one; each holds the newest :data:`FEED_ENTRIES` issues with their full HTML (the
index lists them all). An entry's id is a tag URI (RFC 4151) that names the issue, not the
address the site happens to have, so moving the site does not make feed readers show every
issue again: ``tag:<list id>,<year>:<issue id>`` (``.../<lang>`` for an edition in another
language than the issue's default). Its time is when the issue first reached a reader, else
its ``date:``; never when the site was built, so building twice gives the same bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from mailer.archive.cache import Edition
from mailer.archive.site import Site

ATOM = "http://www.w3.org/2005/Atom"
SITEMAPS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
FEED_ENTRIES = 20  # feed readers fetch a feed again and again: the newest, not the archive


@dataclass(frozen=True)
class FeedEntry:
    edition: Edition
    updated: datetime.datetime  # UTC
    year: int  # of the date (its first send when it has none): the id's year
    content: str  # the page's HTML, without the site's additions


def atom_feed(site: Site, language: str, entries: Sequence[FeedEntry], year: int) -> bytes:
    """The feed of ``language``: the newest :data:`FEED_ENTRIES` of ``entries`` (newest
    first); ``year`` is the site's first."""
    kept = entries[:FEED_ENTRIES]
    feed = ElementTree.Element("feed", {"xmlns": ATOM, XML_LANG: language})
    suffix = "" if language == site.language else f":{language}"
    _text(feed, "id", f"tag:{site.list_id},{year}:feed{suffix}")
    _text(feed, "title", site.name)
    _text(feed, "updated", _stamp(max(entry.updated for entry in kept)))
    author = ElementTree.SubElement(feed, "author")
    _text(author, "name", site.settings.settings.brand.organisation)
    if site.settings.settings.brand.website:
        _text(author, "uri", site.settings.settings.brand.website)
    _link(feed, "self", site.url(site.feed_path(language)), "application/atom+xml")
    _link(feed, "alternate", site.url(site.index_path(language)), "text/html")
    for entry in kept:
        edition = entry.edition
        url = site.url(edition.path)
        item = ElementTree.SubElement(feed, "entry", {XML_LANG: edition.language})
        own = "" if edition.default else f"/{edition.language}"
        _text(item, "id", f"tag:{site.list_id},{entry.year}:{edition.issue_id}{own}")
        _text(item, "title", edition.subject)
        _text(item, "updated", _stamp(entry.updated))
        _link(item, "alternate", url, "text/html", hreflang=edition.language)
        if edition.preheader:
            _text(item, "summary", edition.preheader)
        # Relative addresses in the page (its images) are read from the page's own address.
        _text(item, "content", entry.content, type="html", **{XML_BASE: url})
    return _document(feed)


def sitemap(site: Site, paths: Sequence[str]) -> bytes:
    """Every page of the site (sitemaps.org). No ``lastmod``: the site cannot know when an
    issue was last edited, and a wrong one is worse than none."""
    urlset = ElementTree.Element("urlset", {"xmlns": SITEMAPS})
    for path in paths:
        _text(ElementTree.SubElement(urlset, "url"), "loc", site.url(path))
    return _document(urlset)


def _text(parent: ElementTree.Element, tag: str, text: str, **attributes: str) -> None:
    ElementTree.SubElement(parent, tag, attributes).text = text


def _link(parent: ElementTree.Element, rel: str, href: str, kind: str, **more: str) -> None:
    ElementTree.SubElement(parent, "link", {"rel": rel, "type": kind, **more, "href": href})


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(root: ElementTree.Element) -> bytes:
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
