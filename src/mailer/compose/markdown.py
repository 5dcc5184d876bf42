"""The small, safe Markdown subset allowed in issue text: paragraphs, emphasis, links.

Raw HTML is never passed through (it shows as text), and links may only point to http(s) or
mailto targets, so nothing typed in a YAML file can inject markup or scripts into the email.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _validate_link(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_SCHEMES)


class _SafeLinks(MarkdownIt):
    """markdown-it-py's link check is a method, overridden by subclassing."""

    def validateLink(self, url: str) -> bool:
        return _validate_link(url)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # A single line break in YAML text is a space, a blank line starts a new paragraph.
    md = _SafeLinks("zero", {"html": False, "breaks": False})
    md.enable(["emphasis", "link", "newline", "escape", "entity", "backticks"])
    return md


def to_html(text: str) -> Markup:
    """Markdown -> HTML paragraphs; safe to put in the template as is."""
    return Markup(_parser().render(text).strip())


def to_inline_html(text: str) -> Markup:
    """Markdown -> HTML without the surrounding paragraph (for captions, quotes' lines)."""
    return Markup(_parser().renderInline(text).strip())


def to_text(text: str) -> str:
    """Markdown -> plain text; a link becomes ``label (url)`` so every URL stays visible."""
    paragraphs: list[str] = []
    for token in _parser().parse(text):
        if token.type == "inline":
            paragraphs.append(_inline_text(token.children or []))
    return "\n\n".join(p for p in paragraphs if p)


def _inline_text(children: list[Token]) -> str:
    out: list[str] = []
    href_stack: list[tuple[str, int]] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "link_open":
            href_stack.append((str(child.attrs.get("href", "")), len(out)))
        elif child.type == "link_close" and href_stack:
            href, start = href_stack.pop()
            label = "".join(out[start:])
            if label.strip() != href:
                out.append(f" ({href})")
    return "".join(out).strip()
