"""The contract every check follows: what it is given, what it returns, where it points.

A check is one function ``check(loaded, prepared, *, options) -> list[Finding]``. It never
prints and never raises for a problem in the newsletter: every problem is a :class:`Finding`
with a place a person can open (the YAML line, the ``mailer.toml`` line or the template line)
and a hint how to fix it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import lxml.html
from lxml.html import HtmlElement

from mailer.audience.subscribers import SampleReader
from mailer.compose.issue import LoadedIssue, strings_with_paths
from mailer.compose.merge import FillIn
from mailer.compose.render import theme_of
from mailer.compose.theme import HTML_TEMPLATE
from mailer.delivery.message import OutgoingMessage
from mailer.delivery.prepare import Prepared
from mailer.errors import Location
from mailer.settings import toml_location

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem (or, as ``info``, one fact worth knowing) about an issue."""

    severity: Severity
    check: str
    message: str
    location: Location | None
    fix: str


@dataclass(frozen=True)
class CheckOptions:
    """What the person running the checks chose; the defaults suit ``mailer check``."""

    offline: bool = False
    render: bool = False  # open the email in headless Chromium (takes a second or two)
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    cache_ttl: float = 600.0  # seconds a good link result is reused; 0 turns the cache off
    # Only errors are wanted (the gate before every send): work that can only find a warning
    # or a note is skipped, such as the long-issue projection's two extra renders.
    errors_only: bool = False


def finding_maker(check: str) -> Callable[[Severity, str, Location | None, str], Finding]:
    """``Finding(severity, check, message, location, fix)`` with ``check`` filled in."""

    def make(severity: Severity, message: str, location: Location | None, fix: str) -> Finding:
        return Finding(severity, check, message, location, fix)

    return make


class Check(Protocol):
    def __call__(
        self, loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions
    ) -> list[Finding]: ...


def sample_message(prepared: Prepared) -> OutgoingMessage:
    """The message exactly as the preview's sample reader would receive it."""
    return prepared.factory.build(SampleReader())


def sample_html(prepared: Prepared) -> str:
    """The HTML part with every merge field filled in for the sample reader."""
    values = prepared.factory.personalise(SampleReader()).values
    return FillIn.of(prepared.rendered.html, escape_html=True).fill(values)


def parse_html(html: str) -> HtmlElement:
    return lxml.html.document_fromstring(html)


def text_of(element: HtmlElement) -> str:
    """The element's text as a reader sees it: white space collapsed."""
    return " ".join(element.text_content().split())


_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# Text kept for screen readers but drawn in a 1 px box (a link's "Read more: <title>").
_ONE_PIXEL = re.compile(r"(?:^|;)\s*width\s*:\s*[01]px", re.IGNORECASE)


def seen_text_of(element: HtmlElement) -> str:
    """The element's text as a sighted reader sees it: without what inline styles hide
    (display: none, or a 1 px box with overflow hidden: words for screen readers only)."""
    seen = copy.deepcopy(element)
    for node in list(seen.iterdescendants()):
        style = node.get("style") or ""
        if _HIDDEN.search(style) or (_ONE_PIXEL.search(style) and "overflow:hidden" in style):
            node.drop_tree()
    return text_of(seen)


def clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, to quote it in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_hidden(element: HtmlElement) -> bool:
    """Hidden by an inline ``display: none`` on the element or an ancestor (the preheader)."""
    return any(
        _HIDDEN.search(node.get("style") or "") for node in (element, *element.iterancestors())
    )


def yaml_location(loaded: LoadedIssue, snippet: str, default: Location | None = None) -> Location:
    """The YAML field whose text holds ``snippet``, else ``default`` or the issue file."""
    needle = " ".join(snippet.split())
    if needle:
        for field_path, text in strings_with_paths(loaded.source.data, ()):
            if needle in " ".join(text.split()):
                return loaded.source.locate(field_path)
    return default or Location(loaded.path)


def template_location(loaded: LoadedIssue, needle: str, template: str = HTML_TEMPLATE) -> Location:
    """The first line of a template that contains ``needle`` (for problems only it can fix):
    the project's own copy of the template when it has one, else the default theme's."""
    path = theme_of(loaded).path(template)
    for number, line in enumerate(_lines(path), start=1):
        if needle in line:
            return Location(path, number)
    return Location(path)


def settings_location(
    loaded: LoadedIssue, table: str, key: str, index: int | None = None
) -> Location:
    """The line of ``key = ...`` in ``[table]`` of mailer.toml, or in its ``index``-th
    ``[[table]]`` for arrays of tables such as ``[[social]]``."""
    return toml_location(loaded.settings.path, table, key, index)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
