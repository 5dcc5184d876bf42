"""Outlook: classic Outlook on Windows lays out email with Word, which gives a link no padding
and no border and reads only the tables MJML writes inside ``<!--[if mso | IE]>`` comments.

Every button (a link drawn as a box: padding and a border or a background) must so carry
Outlook's own markup, a cell with ``mso-padding-alt`` around it or a VML rounded rectangle
before it, or Outlook shows it as a line of small text. In a right-to-left issue every table
inside those comments must say ``dir="rtl"``, or Outlook puts a story's photo on the wrong
side. The checks read the HTML subscribers get, so a project's own theme is held to them too.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.etree import ParserError

from mailer.checks.base import (
    CheckOptions,
    Finding,
    finding_maker,
    sample_html,
    template_location,
    text_of,
)
from mailer.compose.bidi import ghost_tables
from mailer.compose.issue import LoadedIssue
from mailer.delivery.prepare import Prepared

CHECK = "outlook"
_finding = finding_maker(CHECK)

_PADDING = re.compile(r"(?:^|;)\s*padding(?:-top|-bottom)?\s*:\s*(?!0(?:px)?\s*(?:;|$))", re.I)
_BOX = re.compile(r"(?:^|;)\s*(?:border(?:-top)?|background(?:-color)?)\s*:", re.I)
_VML_LINK = re.compile(r'<v:roundrect\b[^>]*\bhref="([^"]*)"', re.I)


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    html = sample_html(prepared)
    findings = _buttons(loaded, html)
    if loaded.issue.text_direction == "rtl":
        findings += _ghost_direction(loaded, html)
    return findings


def buttons_without_outlook_markup(html: str) -> tuple[int, list[str]]:
    """How many buttons ``html`` has, and the labels of those Outlook would show as text."""
    try:
        document = lxml.html.document_fromstring(html)
    except ParserError:
        return 0, []
    vml = set(_VML_LINK.findall(html))
    buttons, bare = 0, []
    for link in document.iter("a"):
        style = link.get("style") or ""
        if not (_PADDING.search(style) and _BOX.search(style)):
            continue
        buttons += 1
        cell = next(link.iterancestors("td"), None)
        padded = cell is not None and "mso-padding-alt" in (cell.get("style") or "")
        if not padded and link.get("href") not in vml:
            bare.append(text_of(link)[:40])
    return buttons, bare


def _buttons(loaded: LoadedIssue, html: str) -> list[Finding]:
    count, bare = buttons_without_outlook_markup(html)
    if bare:
        return [_finding(
            "error", f"{len(bare)} of {count} button(s) have no markup for classic Outlook, "
            f"such as '{bare[0]}': Outlook drops a link's padding and border and shows it as "
            "small text", template_location(loaded, "m-cta"),
            "put each button's link in a table cell with mso-padding-alt (and mso-border-alt), "
            "or draw it with a VML v:roundrect for Outlook",
        )]
    return []


def _ghost_direction(loaded: LoadedIssue, html: str) -> list[Finding]:
    tables = ghost_tables(html)
    wrong = [tag for tag in tables if not re.search(r'\bdir="rtl"', tag)]
    if not wrong:
        return []
    return [_finding(
        "error", f"{len(wrong)} of {len(tables)} Outlook-only tables have no dir=\"rtl\": "
        "classic Outlook lays out their cells left to right, putting photos on the wrong side",
        template_location(loaded, "<mj-attributes"),
        "render the theme with mailer's compile step (it adds the direction), or give every "
        'table inside <!--[if mso]> comments dir="rtl"',
    )]
