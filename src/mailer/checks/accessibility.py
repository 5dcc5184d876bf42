"""Accessibility: the Email Markup Consortium's top checks, on the HTML subscribers get.

Language and direction on the document and the body wrapper, a ``<title>``, one ``<h1>`` and
headings in order, layout tables marked ``role="presentation"``, alt text on every image,
link names that say where a link goes, text colours with at least 4.5:1 contrast on their
backgrounds in light and in dark mode, and body text of at least 14 px. Problems the template
causes point at the template line; the brand colours point at the ``mailer.toml`` (or issue)
line that sets them.
"""

from __future__ import annotations

import re
from collections import defaultdict

from lxml.html import HtmlElement

from mailer.checks.base import (
    CheckOptions,
    Finding,
    clip,
    finding_maker,
    is_hidden,
    parse_html,
    seen_text_of,
    template_location,
    text_of,
    yaml_location,
)
from mailer.checks.links import url_places, url_uses
from mailer.compose.issue import LoadedIssue
from mailer.compose.palette import (
    TEXT_PAIRS,
    Role,
    contrast_ratio,
    palettes,
    relative_luminance,
)
from mailer.delivery.prepare import Prepared
from mailer.errors import Location

CHECK = "accessibility"
_finding = finding_maker(CHECK)
MIN_CONTRAST = 4.5
MIN_FONT_PX = 14.0

# Link texts that do not say where a link goes, in the newsletter's languages and a few more.
GENERIC_LINK_TEXTS = frozenset({
    "click here", "click", "here", "tap here", "this link", "link", "more", "this",
    "buraya tıklayın", "buraya tıklayınız", "buraya tıkla", "tıklayın", "tıkla", "buraya",
    "اضغط هنا", "انقر هنا", "هنا", "cliquez ici", "ici", "haga clic aquí", "aquí", "hier klicken",
})

_FONT_SIZE = re.compile(r"(?:^|;)\s*font-size\s*:\s*([\d.]+)px", re.IGNORECASE)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    document = parse_html(prepared.rendered.html)
    return [
        *_language(loaded, document),
        *_title(loaded, document),
        *_headings(loaded, document),
        *_layout_tables(loaded, document),
        *_image_alt(loaded, document),
        *_link_names(loaded, document),
        *_contrast(loaded),
        *_font_sizes(loaded, document),
    ]


def _language(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    issue = loaded.issue
    expected = {"lang": issue.language, "dir": issue.text_direction}
    wrapper = _body_wrapper(document)
    findings = []
    for name, element in (("the <html> element", document), ("the body wrapper", wrapper)):
        for attribute, value in expected.items():
            actual = element.get(attribute) if element is not None else None
            if actual != value:
                problem = f"has {attribute}='{actual}'" if actual else f"has no {attribute}"
                findings.append(_finding(
                    "error", f"{name} {problem}; screen readers need {attribute}='{value}'",
                    template_location(loaded, "<mjml"),
                    'write <mjml lang="{{ issue.language }}" dir="{{ direction }}">',
                ))
    return findings


def _body_wrapper(document: HtmlElement) -> HtmlElement | None:
    """The element MJML wraps the whole visible email in (the preheader div is hidden)."""
    body = document.find("body")
    if body is None:
        return None
    for child in body:
        if child.tag == "div" and not is_hidden(child):
            return child
    return None


def _title(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    title = document.find(".//title")
    if title is not None and (title.text or "").strip():
        return []
    return [_finding(
        "error", "the HTML has no <title>; screen readers announce it when the email opens",
        template_location(loaded, "<mj-head"), "add <mj-title>{{ issue.subject | t }}</mj-title>",
    )]


def _headings(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    headings = [(int(h.tag[1]), text_of(h)) for h in document.iter(*_HEADINGS)]
    findings = []
    top = [text for level, text in headings if level == 1]
    if len(top) != 1:
        findings.append(_finding(
            "error", f"the email has {len(top)} <h1> headings; it needs exactly one",
            template_location(loaded, "<h1>"), "keep one <h1> (the newsletter's name)",
        ))
    previous = 0
    for level, text in headings:
        if level > previous + 1:
            findings.append(_finding(
                "warning", f"heading '{clip(text)}' is h{level} right after "
                f"{f'h{previous}' if previous else 'the start'}: a level is skipped",
                yaml_location(loaded, text), f"use h{previous + 1} there, or add the missing level",
            ))
        previous = level
    return findings


def _layout_tables(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    bare = [
        table for table in document.iter("table")
        if table.get("role") != "presentation" and table.find(".//th") is None
    ]
    if not bare:
        return []
    return [_finding(
        "error", f"{len(bare)} layout table(s) lack role=\"presentation\": screen readers "
        "announce rows and columns", template_location(loaded, "<mj-"),
        "use MJML components for layout, or add role=\"presentation\" to each layout <table>",
    )]


def _image_alt(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    missing = [img.get("src", "?") for img in document.iter("img") if img.get("alt") is None]
    if not missing:
        return []
    return [_finding(
        "error", f"{len(missing)} image(s) have no alt attribute (first: {clip(missing[0])}); "
        "screen readers read out the file name", template_location(loaded, "<mj-image"),
        'give every <mj-image> an alt (alt="" for decoration)',
    )]


def _link_names(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    places = url_places(url_uses(loaded))
    findings = []
    targets_by_name: dict[str, set[str]] = defaultdict(set)
    first_place: dict[str, Location] = {}
    for link in document.iter("a"):
        href = link.get("href", "")
        where = places.get(href) or template_location(loaded, "<a ")
        visible = seen_text_of(link)
        # What a screen reader says: the aria-label, else the whole text (with the words
        # hidden for it alone) and the alt texts.
        name = " ".join((link.get("aria-label") or "").split()) or " ".join(
            [text_of(link), *(img.get("alt", "") for img in link.iter("img"))]
        ).strip()
        if not name:
            findings.append(_finding(
                "error", f"the link to {clip(href)} has no text and no alt text: screen readers "
                "read out its address", where, "give the link a text, or its image an alt text",
            ))
            continue
        if visible.casefold().strip(" .:!?»›→") in GENERIC_LINK_TEXTS:
            findings.append(_finding(
                "warning", f"link text '{visible}' does not say where the link goes", where,
                "use words that name the destination, such as 'Read the report on …'",
            ))
        targets_by_name[name.casefold()].add(href)
        first_place.setdefault(name.casefold(), where)
    for name, targets in targets_by_name.items():
        if len(targets) > 1:
            findings.append(_finding(
                "warning", f"{len(targets)} links are all named '{name}' but go to different "
                "pages; screen reader users cannot tell them apart", first_place[name],
                "give each link its own label, or an aria-label naming the story "
                "(the template does this for links under a story with a title or text)",
            ))
    return findings


def _contrast(loaded: LoadedIssue) -> list[Finding]:
    """Every text colour on the backgrounds the template shows it on, in light and dark mode:
    one finding per colour setting and mode, for its worst background, at its ``[brand]``
    line."""
    findings = []
    for palette in palettes(loaded.brand):
        in_mode = " in dark mode" if palette.mode == "dark" else ""
        failing: dict[str, list[tuple[float, Role, Role, str]]] = defaultdict(list)
        for foreground, background, used_for in TEXT_PAIRS:
            fg, bg = palette.roles[foreground], palette.roles[background]
            ratio = contrast_ratio(fg.colour, bg.colour)
            if ratio < MIN_CONTRAST:
                failing[fg.setting].append((ratio, fg, bg, used_for))
        for pairs in failing.values():
            ratio, fg, bg, _ = min(pairs, key=lambda pair: pair[0])
            uses = ", ".join(dict.fromkeys(used_for for *_, used_for in pairs))
            findings.append(_finding(
                "error", f"brand.{fg.setting} {fg.colour} on brand.{bg.setting} {bg.colour} "
                f"({uses}{in_mode}) has contrast {ratio:.2f}:1; text needs at least "
                f"{MIN_CONTRAST}:1", loaded.setting_location("brand", fg.setting),
                f"use {readable_variant(fg.colour, bg.colour)} for brand.{fg.setting} (same "
                "hue, enough contrast), or change the background",
            ))
    return findings


def _font_sizes(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    findings = []
    if loaded.brand.font_size_px < MIN_FONT_PX:
        findings.append(_finding(
            "warning", f"the body text is {loaded.brand.font_size_px} px; below {MIN_FONT_PX:g} "
            "px it is hard to read on phones", loaded.setting_location("brand", "font_size_px"),
            f"set brand.font_size_px to {MIN_FONT_PX:g} or more (16 is usual)",
        ))
    body = document.find("body")
    small: dict[float, str] = {}
    if body is not None:
        _collect_smalltext_of(body, 16.0, small)
    for size, example in sorted(small.items()):
        if size == loaded.brand.font_size_px:
            continue  # reported above, at the setting
        findings.append(_finding(
            "warning", f"text in {size:g} px (such as '{clip(example)}') is hard to read on "
            f"phones", template_location(loaded, f"{size:g}px"),
            f"make it at least {MIN_FONT_PX:g} px in the template's styles",
        ))
    return findings


def _collect_smalltext_of(element: HtmlElement, inherited: float, small: dict[float, str]) -> None:
    """Record, per font size under the minimum, one visible text that uses it."""
    if is_hidden(element):
        return
    match = _FONT_SIZE.search(element.get("style", ""))
    size = float(match.group(1)) if match else inherited
    own = " ".join(filter(None, [element.text, *(child.tail for child in element)])).strip()
    if own and size < MIN_FONT_PX:
        small.setdefault(size, own)
    for child in element:
        if isinstance(child.tag, str):  # skip comments
            _collect_smalltext_of(child, size, small)


# --- WCAG 2 contrast -------------------------------------------------------------------------


def readable_variant(foreground: str, background: str) -> str:
    """``foreground`` mixed step by step towards black (or white, on a dark background) until
    it reaches the minimum contrast with ``background``."""
    target = 0 if relative_luminance(background) > 0.18 else 255
    channels = [int(foreground[i : i + 2], 16) for i in (1, 3, 5)]
    candidate = foreground
    for step in range(1, 21):
        share = step / 20
        mixed = [round(c + (target - c) * share) for c in channels]
        candidate = "#" + "".join(f"{c:02X}" for c in mixed)
        if contrast_ratio(candidate, background) >= MIN_CONTRAST:
            break
    return candidate
