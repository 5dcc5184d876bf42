"""Size: Gmail clips an email whose HTML passes about 102 KB ("[Message clipped]", and the
unsubscribe link with the footer disappears); very large messages are slow or refused.

The theme is held to a long issue too: what each story costs in HTML (the issue rendered
with each story once and twice), so that an issue of :data:`LONG_ISSUE_STORIES` such stories stays
under the clipping, whichever theme a project uses."""

from __future__ import annotations

from dataclasses import replace

from mailer.checks.base import CheckOptions, Finding, finding_maker, sample_html, sample_message
from mailer.compose.images import EmbeddedImages
from mailer.compose.issue import LoadedIssue
from mailer.compose.render import render_issue
from mailer.delivery.prepare import Prepared
from mailer.errors import Location
from mailer.fields import domain_of

CHECK = "size"
GMAIL_CLIP_BYTES = 102_000
CLIP_WARNING_BYTES = 90_000
MESSAGE_WARNING_BYTES = 1_000_000
MESSAGE_LIMIT_BYTES = 10_000_000  # many mail servers refuse bigger messages
LONG_ISSUE_STORIES = 40  # the longest issue an office sends: the theme must fit it unclipped

_finding = finding_maker(CHECK)
_SHORTEN = "shorten the text, or move some stories to the website and link to them"
_LIGHTEN = "make the images smaller, or publish them (send.image_base_url in mailer.toml)"


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    where = Location(loaded.path)
    html_bytes = len(sample_html(prepared).encode("utf-8"))
    message_bytes = len(sample_message(prepared).data)
    images = len(prepared.factory.content.images)
    html_kb, message_kb = _kb(html_bytes), _kb(message_bytes)
    findings = [_finding(
        "info",
        f"HTML {html_kb} KB (Gmail clips at {_kb(GMAIL_CLIP_BYTES)} KB); whole message "
        f"{message_kb} KB with {images} embedded image{'s' if images != 1 else ''}",
        where, "",
    )]
    if html_bytes >= GMAIL_CLIP_BYTES:
        findings.append(_finding(
            "error", f"the HTML is {html_kb} KB: Gmail will clip it and hide the footer "
            "with the unsubscribe link", where, _SHORTEN,
        ))
    elif html_bytes >= CLIP_WARNING_BYTES:
        findings.append(_finding(
            "warning", f"the HTML is {html_kb} KB, close to Gmail's clipping at "
            f"{_kb(GMAIL_CLIP_BYTES)} KB", where, _SHORTEN,
        ))
    if message_bytes >= MESSAGE_LIMIT_BYTES:
        findings.append(_finding(
            "error", f"the message is {message_kb} KB: many mail servers refuse messages "
            f"over {_kb(MESSAGE_LIMIT_BYTES)} KB", where, _LIGHTEN,
        ))
    elif message_bytes >= MESSAGE_WARNING_BYTES:
        findings.append(_finding(
            "warning", f"the message is {message_kb} KB: slow to download on phones",
            where, _LIGHTEN,
        ))
    if html_bytes < CLIP_WARNING_BYTES and not options.errors_only:  # a long issue is said
        findings += _long_issue(loaded)
    return findings


def story_cost(loaded: LoadedIssue) -> tuple[int, int, int] | None:
    """``(stories, HTML bytes, bytes a story)`` of the issue: a story costs what the HTML
    grows by when each of the sections' stories comes twice (the sections' own bands and
    tables do not grow). None for an issue without sections."""
    sections = loaded.issue.sections
    stories = sum(len(section.items) for section in sections)
    if not stories:
        return None
    twice = [section.model_copy(update={"items": section.items * 2}) for section in sections]
    longer = replace(loaded, issue=loaded.issue.model_copy(update={"sections": twice}))
    domain = domain_of(loaded.sender.address)
    full = len(render_issue(loaded, EmbeddedImages(domain)).html.encode("utf-8"))
    doubled = len(render_issue(longer, EmbeddedImages(domain)).html.encode("utf-8"))
    return stories, full, max(0, doubled - full) // stories


def _long_issue(loaded: LoadedIssue) -> list[Finding]:
    cost = story_cost(loaded)
    if cost is None:
        return []
    stories, full, each = cost
    projected = full + each * max(0, LONG_ISSUE_STORIES - stories)
    if projected < GMAIL_CLIP_BYTES:
        return []
    fit = stories + max(0, GMAIL_CLIP_BYTES - full) // max(each, 1)
    return [_finding(
        "warning", f"each story takes about {each / 1000:.1f} KB of HTML in this theme: an "
        f"issue of {LONG_ISSUE_STORIES} such stories would be {_kb(projected)} KB and clipped "
        f"by Gmail (about {fit} fit)", Location(loaded.path),
        "lighten the theme's story markup (stories of a section in one MJML section, styles "
        "that repeat moved up to where they are inherited)",
    )]


def _kb(size: int) -> int:
    return round(size / 1000)
