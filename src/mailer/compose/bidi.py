"""Text in both directions: the runs of an issue's HTML to isolate, and its plain-text lines.

Inside an element whose direction is ``rtl``, the Unicode bidirectional algorithm orders an
Arabic sentence holding a Turkish place name or a number by itself. What it cannot know is
where a run that is not part of the sentence ends: ``https://turkiye.iom.int/`` before an
Arabic word shows its last slash on the wrong side, and an English sentence from the settings
shows its full stop at its start. Such runs are isolated in the HTML (``<span dir="ltr">``):
the URLs in an issue's text, and what the template takes from the settings and the theme
when it is written in the other direction.

Text clients lay out the plain-text part line by line, many guessing each line's direction
from its first letter or digit. So in a right-to-left issue every URL stands on a line of its
own, and a line that holds right-to-left letters but starts with a Latin word or a number
begins with a RIGHT-TO-LEFT MARK; no control character ever goes inside a URL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import unescape
from typing import Literal

from markupsafe import Markup, escape

Direction = Literal["ltr", "rtl"]

RLM = "\u200f"  # RIGHT-TO-LEFT MARK: an invisible right-to-left letter

# A URL in running text: what closes the sentence around it (punctuation, a closing quote, the
# bracket it was opened in) is not part of it, while a bracket pair inside it (Wikipedia's
# Foo_(bar)) is.
_URL = re.compile(
    r"(\()?((?:https?://|mailto:)[^\s<>\"]+?)(?(1)\))([.,;:!?،؛؟'\"”’»]*)(?=\s|$)"
)
_TAG = re.compile(r"(<[^>]*>)")


def text_direction(text: str) -> Direction | None:
    """The direction of the first letter that has one (the rule of UAX #9 for a paragraph's
    direction), or None for text without letters, such as a number or a rule of ``=``."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


def has_rtl_letters(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def isolate(value: str, direction: str) -> Markup:
    """``value`` escaped for HTML, inside ``<span dir="...">`` when it is written in the other
    direction than the issue's ``direction`` (an English address in an Arabic footer)."""
    own = text_direction(value)
    text = escape(value)
    if own is None or own == direction:
        return text
    return Markup(f'<span dir="{own}">{text}</span>')


def isolate_urls(html: str, direction: str) -> Markup:
    """The HTML fragment ``html`` (the issue's Markdown, rendered) with every URL in its text
    isolated as ``<span dir="ltr">``, in a right-to-left issue; unchanged in a left-to-right
    one, where URLs run the same way as the text around them."""
    if direction != "rtl":
        return Markup(html)
    parts = _TAG.split(html)
    for index in range(0, len(parts), 2):  # the text between the tags
        text = unescape(parts[index])
        if _URL.search(text):
            parts[index] = _isolated_urls(text)
    return Markup("".join(parts))


def _isolated_urls(text: str) -> str:
    pieces: list[str] = []
    at = 0
    for match in _URL.finditer(text):
        start, end = match.span(2)
        pieces += [escape(text[at:start]), f'<span dir="ltr">{escape(match.group(2))}</span>']
        at = end
    pieces.append(escape(text[at:]))
    return "".join(pieces)


def urls_apart(text: str, direction: str) -> str:
    """Plain ``text`` with every URL on a line of its own, in a right-to-left issue.

    The brackets around a URL are dropped, and the punctuation after it goes to the end of
    the words before it, so that no line starts with a full stop. Paragraphs (blank lines)
    stay as they are; a left-to-right issue's text is returned unchanged.
    """
    if direction != "rtl":
        return text
    return "\n\n".join(_apart(paragraph) for paragraph in text.split("\n\n"))


def _apart(paragraph: str) -> str:
    pieces: list[str] = []
    at = 0
    for match in _URL.finditer(paragraph):
        before = paragraph[at:match.start()].strip()
        url, punctuation = match.group(2), match.group(3)
        if before:
            pieces.append(before + punctuation)
            pieces.append(url)
        else:
            pieces.append(url + punctuation)
        at = match.end()
    pieces.append(paragraph[at:].strip())
    return "\n".join(piece for piece in pieces if piece)


def mark_lines(text: str, direction: str) -> str:
    """The plain-text part with a RIGHT-TO-LEFT MARK before each line of a right-to-left issue
    that a text client would otherwise lay out left to right: a line holding Arabic or Hebrew
    letters that starts with a Latin word or a number (``25 شخصًا``, which the bidirectional
    algorithm would run right to left, but a client that goes by the first character would
    not), and a line without letters (a rule under a heading). A line of Latin letters only (a
    URL, a name) keeps its own direction."""
    if direction != "rtl":
        return text
    lines = []
    for line in text.split("\n"):
        needs_mark = line.strip() and (
            text_direction(line) is None or (has_rtl_letters(line) and _starts_otherwise(line))
        )
        lines.append(RLM + line if needs_mark else line)
    return "\n".join(lines)


def _starts_otherwise(line: str) -> bool:
    """Whether the first letter or digit of ``line`` (after spaces, quotes, brackets) is a
    left-to-right letter or a digit, Western or Arabic-Indic."""
    for char in line:
        if unicodedata.category(char) == "Nd":
            return True
        if char.isalpha():
            return unicodedata.bidirectional(char) == "L"
    return False


# Languages written in the Arabic script. Arabic type has no italics (a slanted Naskh is a
# computer's distortion, not a style) and needs more room between lines for its marks.
ARABIC_SCRIPT = frozenset({"ar", "fa", "ur", "ps", "ckb", "sd", "ug", "ks"})
ARABIC_FONTS = "Tahoma, 'Segoe UI', 'Geeza Pro', 'Noto Naskh Arabic'"
ARABIC_LINE_HEIGHT = "1.7"
LINE_HEIGHT = "1.55"


@dataclass(frozen=True)
class Typography:
    """How the template sets an issue's text: faces, line height, and the style of quotes."""

    font_family: str
    line_height: str
    quote_style: str  # "italic", or "normal" where the script has no italics


def typography(language: str, direction: str, font_family: str) -> Typography:
    """The type for ``language``: the Arabic script's faces ahead of the brand's font and a
    taller line; quotes upright in every right-to-left script (marked by their border)."""
    arabic = language.split("-")[0].lower() in ARABIC_SCRIPT
    return Typography(
        font_family=f"{ARABIC_FONTS}, {font_family}" if arabic else font_family,
        line_height=ARABIC_LINE_HEIGHT if arabic else LINE_HEIGHT,
        quote_style="normal" if direction == "rtl" else "italic",
    )


# Outlook's Word engine lays out the "ghost" tables MJML writes inside <!--[if mso | IE]>
# comments, cell by cell in source order: without dir="rtl" an Arabic story's photo column
# stands on the left. MRML gives them no direction, so it is added after compiling.
_GHOST = re.compile(r"<!--\[if mso[^\]]*\]>.*?<!\[endif\]-->", re.S)
_GHOST_TABLE = re.compile(r"<table(?![^>]*\bdir=)")


def ghost_tables_right_to_left(html: str) -> str:
    """``html`` with ``dir="rtl"`` on every table inside Outlook's conditional comments."""
    return _GHOST.sub(lambda match: _GHOST_TABLE.sub('<table dir="rtl"', match.group(0)), html)


def ghost_tables(html: str) -> list[str]:
    """Every ``<table ...>`` tag inside Outlook's conditional comments in ``html``."""
    return [tag for block in _GHOST.findall(html) for tag in re.findall(r"<table\b[^>]*>", block)]
