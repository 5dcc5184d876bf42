"""Content: something to send, and nothing left unfinished.

An issue without a lead story or a section is an error, and so is what ``mailer new`` wrote
as a stand-in and was never replaced: links to the reserved example domains (example.org and
the like), placeholder ids such as ``watch?v=XXXXXXXXXXX``, TODO notes and the scaffold's own
sentences. Each error names the YAML line. In ``mailer.toml`` an example address or link is
the organisation's business (it may be a test setup), so there it is only a warning.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

import yaml

from mailer.checks.base import CheckOptions, Finding, clip, finding_maker, settings_location
from mailer.checks.links import url_uses
from mailer.compose.issue import LoadedIssue, dotted, strings_with_paths
from mailer.delivery.prepare import Prepared
from mailer.errors import Location
from mailer.fields import domain_of

CHECK = "content"
_finding = finding_maker(CHECK)

# RFC 2606 and RFC 6761: names reserved for examples and tests, never anyone's site.
EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org", "example.edu"})
EXAMPLE_TOP_LEVEL = frozenset({"example", "test", "invalid", "localhost"})
PLACEHOLDERS = (
    (re.compile(r"X{4,}"), "a placeholder id"),
    (re.compile(r"\b(?:TODO|FIXME)\b"), "a note to self"),
    (re.compile(r"\blorem ipsum\b", re.IGNORECASE), "filler text"),
)
# Fields of the scaffold whose words are fine to keep: names and labels, not stand-ins.
_KEPT_FIELDS = frozenset({"id", "language", "label", "period"})


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    return [
        *_empty(loaded),
        *_example_links(loaded),
        *_placeholders(loaded),
        *_scaffold_sentences(loaded),
        *_example_sender(loaded),
    ]


def is_example_host(host: str) -> bool:
    labels = host.lower().rstrip(".").split(".")
    return ".".join(labels[-2:]) in EXAMPLE_DOMAINS or labels[-1] in EXAMPLE_TOP_LEVEL


def _empty(loaded: LoadedIssue) -> list[Finding]:
    if loaded.issue.lead or loaded.issue.sections:
        return []
    return [_finding(
        "error", "the issue has nothing to send: no lead story and no sections",
        loaded.source.locate(("id",)),
        "add a lead: (a title and a body) or sections: with items; mailer new shows how",
    )]


def _example_links(loaded: LoadedIssue) -> list[Finding]:
    findings = []
    for use in url_uses(loaded):
        host = urlsplit(use.url.strip()).hostname or ""
        if not host or not is_example_host(host):
            continue
        if use.location.path == loaded.path:
            findings.append(_finding(
                "error", f"{use.url} is an example link ({host} is reserved for examples, "
                "nobody's site): readers would land nowhere", use.location,
                "link to the real page",
            ))
        else:
            findings.append(_finding(
                "warning", f"{use.url} in the settings is an example address ({host})",
                use.location, "set the organisation's real address before sending to readers",
            ))
    return findings


def _placeholders(loaded: LoadedIssue) -> list[Finding]:
    findings = []
    for field_path, text in strings_with_paths(loaded.source.data, ()):
        for pattern, what in PLACEHOLDERS:
            match = pattern.search(text)
            if match:
                findings.append(_finding(
                    "error", f"'{match.group(0)}' in {dotted(field_path)} looks like {what} "
                    "that was never filled in", _line_with(loaded, field_path, match.group(0)),
                    "replace it with the real value",
                ))
                break
    return findings


def _scaffold_sentences(loaded: LoadedIssue) -> list[Finding]:
    stand_ins = scaffold_paragraphs()
    findings = []
    for field_path, text in strings_with_paths(loaded.source.data, ()):
        if _kept(field_path):
            continue
        left = [p for p in _paragraphs(text) if p in stand_ins]
        if left:
            findings.append(_finding(
                "error", f"'{clip(left[0])}' in {dotted(field_path)} is the stand-in text of "
                "mailer new, never replaced", _line_with(loaded, field_path, left[0]),
                "write the issue's own words here",
            ))
    return findings


def _example_sender(loaded: LoadedIssue) -> list[Finding]:
    sender = loaded.sender
    findings = []
    for key, address in (("address", sender.address), ("reply_to", sender.reply_to)):
        if address and is_example_host(domain_of(address)):
            where = (
                loaded.source.locate(("sender", key)) if loaded.issue.sender
                else settings_location(loaded, "sender", key)
            )
            findings.append(_finding(
                "warning", f"sender.{key} {address} is an example address: replies and "
                "bounces would go nowhere, and receivers refuse mail from domains they cannot "
                "check", where, "send from the organisation's own address",
            ))
    return findings


@cache
def scaffold_paragraphs() -> frozenset[str]:
    """The stand-in paragraphs of ``mailer new``'s scaffold; a greeting with a merge field in
    it is meant to be kept, so it is not one of them."""
    text = resources.files("mailer.compose").joinpath("scaffold.yaml").read_text("utf-8")
    found: set[str] = set()
    for field_path, value in strings_with_paths(yaml.safe_load(text), ()):
        if not _kept(field_path):
            found.update(p for p in _paragraphs(value) if "{{" not in p)
    return frozenset(found)


def _line_with(loaded: LoadedIssue, field_path: tuple, text: str) -> Location:
    """The line of ``text`` inside the field, for a block of several lines (``body: |``);
    else the field's own line."""
    where = loaded.source.locate(field_path)
    words = " ".join(text.split()[:4])
    if where.line is None or not words:
        return where
    lines = loaded.source.path.read_text(encoding="utf-8").splitlines()
    for number in range(where.line, min(len(lines), where.line + 200) + 1):
        if words in " ".join(lines[number - 1].split()):
            column = len(lines[number - 1]) - len(lines[number - 1].lstrip()) + 1
            return Location(where.path, number, column if number != where.line else where.column)
    return where


def _kept(field_path: tuple) -> bool:
    if not field_path:
        return False
    key = field_path[-1]
    in_section_title = len(field_path) == 3 and field_path[0] == "sections" and key == "title"
    return key in _KEPT_FIELDS or in_section_title or key == "url"


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
