"""Editions against their issue's default: what a translator left out, added, re-linked or left
untranslated.

An edition is matched with the default file by position (see :mod:`mailer.compose.editions`):
the lead with the lead, the n-th item of the m-th section with the n-th item of the m-th
section, links by their place among the item's links. :func:`compare` reports, each located in
the edition's file:

* a section, item or link the default has and the edition has not, or the other way round (an
  item left out in the middle shifts every later one onto the wrong image and URLs);
* a link whose URL is not the default's in the same place;
* a text word for word the default's (a title, body, caption, alt text, link label, quote,
  subject, preheader, period or footer reason), written so or taken whole with an image or
  links the edition's item leaves out; see :func:`_worth_translating` for what is skipped.

All are warnings: the translator's business, never a reason to refuse a send.
"""

from __future__ import annotations

import re

from mailer.checks.base import Finding, clip, finding_maker
from mailer.compose.editions import describe
from mailer.compose.issue import (
    Issue,
    Item,
    Link,
    LoadedIssue,
    Section,
    dotted,
    strings_with_paths,
)
from mailer.compose.translations import is_translatable, value_at
from mailer.compose.yaml_source import FieldPath
from mailer.fields import MERGE_FIELD

CHECK = "editions"
_finding = finding_maker(CHECK)

_TAKEN_WHOLE = ", taken whole with the image or links this edition's item leaves out"
_GIVE_ITS_OWN = (
    "give the item its image or links here with their words translated: the edition takes "
    "only an image's src, link and credit and each link's url from the default"
)
_URL = re.compile(r"\S+://\S+|mailto:\S+")
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script


def compare(edition: LoadedIssue, default: LoadedIssue) -> list[Finding]:
    """Warnings about ``edition`` measured against ``default``, its issue's default file."""
    mine, theirs = _places(edition.issue), _places(default.issue)
    return [
        *_missing(edition, default, [place for place in theirs if place not in mine]),
        *_extra(edition, default, [place for place in mine if place not in theirs]),
        *_other_urls(edition, default, mine, theirs),
        *_untranslated(edition, default),
    ]


def _places(issue: Issue) -> dict[FieldPath, Section | Item | Link]:
    """The lead and every section, item and link of ``issue`` by field path, in reading order:
    what editions match by position."""
    places: dict[FieldPath, Section | Item | Link] = {}

    def add(where: FieldPath, item: Item) -> None:
        places[where] = item
        places.update({(*where, "links", n): link for n, link in enumerate(item.links)})

    if issue.lead:
        add(("lead",), issue.lead)
    for s, section in enumerate(issue.sections):
        places[("sections", s)] = section
        for i, item in enumerate(section.items):
            add(("sections", s, "items", i), item)
    return places


def _outermost(places: list[FieldPath]) -> list[FieldPath]:
    """``places`` without those inside another of them: a missing section, not also each of
    its items and their links."""
    found = set(places)
    return [place for place in places if not any(place[:k] in found for k in range(1, len(place)))]


def _missing(edition: LoadedIssue, default: LoadedIssue, places: list[FieldPath]) -> list[Finding]:
    return [
        _finding(
            "warning", f"{describe(place)} of {default.path.name} is not in this edition",
            edition.source.locate(place),
            "translate it in the same place: items and links are matched by position, so one "
            "left out moves every later one onto the default's next image and links",
        )
        for place in _outermost(places)
    ]


def _extra(edition: LoadedIssue, default: LoadedIssue, places: list[FieldPath]) -> list[Finding]:
    return [
        _finding(
            "warning", f"{describe(place)} is not in {default.path.name}: only this edition's "
            "readers get it", edition.source.locate(place),
            "add it to the default file too, or remove it here; if it should stand where it is, "
            "check that the ones after it still face their counterparts",
        )
        for place in _outermost(places)
    ]


def _other_urls(
    edition: LoadedIssue,
    default: LoadedIssue,
    mine: dict[FieldPath, Section | Item | Link],
    theirs: dict[FieldPath, Section | Item | Link],
) -> list[Finding]:
    findings = []
    for place, link in mine.items():
        their_link = theirs.get(place)
        if isinstance(link, Link) and isinstance(their_link, Link) and link.url != their_link.url:
            findings.append(_finding(
                "warning", f"{dotted((*place, 'url'))} is {link.url}, where {default.path.name} "
                f"links to {their_link.url}", edition.source.locate((*place, "url")),
                "fine if it is the same page in this edition's language; otherwise leave url "
                "out and the default's is used",
            ))
    return findings


def _untranslated(edition: LoadedIssue, default: LoadedIssue) -> list[Finding]:
    findings = []
    for field_path, text in strings_with_paths(edition.source.data, ()):
        if not is_translatable(field_path):
            continue
        theirs = value_at(default.source.data, field_path)
        if not isinstance(theirs, str) or _words(theirs) != _words(text):
            continue
        if not _worth_translating(text):
            continue
        written = field_path in edition.source.positions  # else taken with an image or links
        findings.append(_finding(
            "warning", f"{dotted(field_path)} '{clip(_words(text))}' is word for word the "
            f"default's, in {default.path.name}" + ("" if written else _TAKEN_WHOLE),
            edition.source.locate(field_path), "translate it" if written else _GIVE_ITS_OWN,
        ))
    return findings


def _worth_translating(text: str) -> bool:
    """Whether a text the same as the default's was likely left untranslated, rather than being
    the same in every language.

    Not worth a warning: a text without a letter once merge fields and URLs are left out (a
    year, "{{ subscriber.first_name }}"), and a single word written as a name or code is, with
    a capital after its first letter or a digit ("IOM", "UNHCR", "YouTube", "COVID-19"). A
    single plain word is worth one: "Highlights" left in English is what this check is for,
    while a title that is only a proper name ("Gaziantep") is rare, and its warning costs the
    translator a glance.
    """
    words = _URL.sub(" ", MERGE_FIELD.sub(" ", text)).split()
    if not any(_LETTER.search(word) for word in words):
        return False
    if len(words) == 1:
        word = words[0]
        return not any(ch.isupper() or ch.isdigit() for ch in word[1:])
    return True


def _words(text: str) -> str:
    """``text`` with its white space collapsed: a reflowed paragraph is still the same text."""
    return " ".join(text.split())

