"""Spam filters: what SpamAssassin's stock rules (and filters like it) score in a newsletter.

Each warning names the rule and what it costs, so that a person can weigh it: a greeting such
as "Dear friend" for readers without a first name (DEAR_FRIEND, 2.6 points on every such
copy), a subject in capitals (SUBJ_ALL_CAPS) or shouting "!!", an email of pictures with
hardly any words (HTML_IMAGE_ONLY), and little text for the area of its images
(HTML_IMAGE_RATIO). URL shorteners and a missing text part are the deliverability check's.

Greetings are read as a reader without a name gets them: merge fields filled in with nothing,
so that ``default(...)`` words show.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from mailer.audience.subscribers import Subscriber
from mailer.checks.base import (
    CheckOptions,
    Finding,
    finding_maker,
    is_hidden,
    parse_html,
)
from mailer.compose.issue import LoadedIssue, images_with_paths, strings_with_paths
from mailer.compose.merge import FillIn, MergeFields
from mailer.delivery.prepare import Prepared

CHECK = "spam"
_finding = finding_maker(CHECK)

# SpamAssassin 4.0's 20_phrases.cf, matched on each paragraph of the text.
GREETINGS = (
    ("DEAR_FRIEND", 2.6, re.compile(r"^\s*Dear Friend\b", re.IGNORECASE)),
    ("DEAR_SOMETHING", 2.0, re.compile(
        r"\bDear (?:IT\W|Internet|candidate|sirs?|madam|investor|travell?er|car shopper|web)\b",
        re.IGNORECASE,
    )),
)
GREETING_FIX = (
    'greet readers so that an empty name reads well and no filter minds, such as '
    '"Hello {{ subscriber.first_name | default("there") }}," or the list\'s own words'
)
ALL_CAPS_MIN_LENGTH = 10  # SUBJ_ALL_CAPS leaves short and one-word subjects alone
WORDS_PER_PICTURE = 10  # the issue's own words per photo, below which pictures are the content
# Visible characters per square pixel of images, as SpamAssassin measures them: it scores up to
# 0.008 (HTML_IMAGE_RATIO_02 to _08); the check warns in the lowest two bands, where a picture
# stands with a line or two of text, not where a photo heads a short story.
IMAGE_RATIO_MIN = 0.004
NO_NAME = Subscriber("reader@example.org")


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    document = parse_html(prepared.rendered.html)
    return [
        *_greetings(loaded),
        *_subject(loaded),
        *_images(loaded, document),
    ]


def _without_a_name(text: str) -> str:
    """``text`` as a reader with no name in the subscriber list gets it."""
    merge = MergeFields()
    tokenized = merge.tokenize(text)
    return FillIn.of(tokenized, escape_html=False).fill(merge.values(NO_NAME.merge_data()))


def _greetings(loaded: LoadedIssue) -> list[Finding]:
    findings = []
    for field_path, text in strings_with_paths(loaded.source.data, ()):
        if "dear" not in text.casefold():
            continue
        paragraphs = [p for p in re.split(r"\n\s*\n|\n", _without_a_name(text)) if p.strip()]
        for rule, points, pattern in GREETINGS:
            match = next((m for p in paragraphs if (m := pattern.search(p))), None)
            if match:
                findings.append(_finding(
                    "warning", f"'{match.group(0).strip()}' is how readers without a first name "
                    f"are greeted; SpamAssassin's {rule} rule adds {points} points to each of "
                    "their copies", loaded.source.locate(field_path), GREETING_FIX,
                ))
                break
    return findings


def _subject(loaded: LoadedIssue) -> list[Finding]:
    subject = " ".join(_without_a_name(loaded.issue.subject).split())
    where = loaded.source.locate(("subject",))
    findings = []
    letters = [ch for ch in subject if ch.isalpha()]
    if (
        len(subject) >= ALL_CAPS_MIN_LENGTH and " " in subject and letters
        and all(ch.isupper() for ch in letters)
    ):
        findings.append(_finding(
            "warning", "the subject is all in capitals; spam filters score that "
            "(SpamAssassin's SUBJ_ALL_CAPS) and readers take it as shouting", where,
            "write the subject in sentence case",
        ))
    if "!!" in subject or re.search(r"\?\s*!|!\s*\?", subject):
        findings.append(_finding(
            "warning", "the subject shouts with '!!' or '?!'; spam filters score runs of "
            "exclamation marks (SpamAssassin's PLING rules)", where,
            "end the subject with one mark at most, or none",
        ))
    return findings


def _images(loaded: LoadedIssue, document: HtmlElement) -> list[Finding]:
    """What SpamAssassin's HTML rules see: the visible characters against the images."""
    body = document.find("body")
    if body is None:
        return []
    images = [img for img in body.iter("img") if not is_hidden(img)]
    if not images:
        return []
    where = loaded.source.locate(("lead",) if loaded.issue.lead else ("sections",))
    own_words = sum(len(text.split()) for text in _issue_words(loaded))
    pictures = sum(1 for _ in images_with_paths(loaded.issue))
    if own_words < WORDS_PER_PICTURE * pictures:
        return [_finding(
            "warning", f"the issue has {pictures} picture{'s' if pictures != 1 else ''} but "
            f"only {own_words} words of its own; spam filters score emails that are mostly "
            "pictures (SpamAssassin's HTML_IMAGE_ONLY), and readers with images off see almost "
            "nothing", where,
            "tell the stories in words too: a paragraph under each picture",
        )]
    visible = sum(len("".join(text.split())) for text in _visible_texts(body))
    area = sum(_image_area(img) for img in images)
    if area and visible / area <= IMAGE_RATIO_MIN:
        return [_finding(
            "warning", f"{visible} characters of text for {area:,} square pixels of images; "
            "spam filters score so little text for the pictures (SpamAssassin's "
            "HTML_IMAGE_RATIO_02 and _04)",
            where, "add text, or use fewer or smaller images",
        )]
    return []


def _issue_words(loaded: LoadedIssue) -> list[str]:
    issue = loaded.issue
    texts = [section.title for section in issue.sections]
    texts += [section.intro or "" for section in issue.sections]
    for item in issue.all_items():
        texts += [item.title or "", item.body or "", item.quote.text if item.quote else ""]
        if item.image:
            texts.append(item.image.caption or "")
    return texts


def _visible_texts(element: HtmlElement) -> list[str]:
    if is_hidden(element) or element.tag in ("style", "script", "title"):
        return [element.tail or ""]
    texts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            texts += _visible_texts(child)
        else:
            texts.append(child.tail or "")
    return [*texts, element.tail or ""]


def _image_area(img: HtmlElement) -> int:
    """SpamAssassin's estimate: only images with both a width and a height attribute count;
    a size it cannot read (``auto``) is taken as 200 px, a percentage of an 800x600 screen."""
    if img.get("width") is None or img.get("height") is None:
        return 0
    sizes = []
    for name, screen in (("width", 8), ("height", 6)):
        match = re.fullmatch(r"(\d+)(%)?", img.get(name, "").strip())
        size = int(match.group(1)) * (screen if match.group(2) else 1) if match else 0
        sizes.append(size or 200)
    return sizes[0] * sizes[1]
