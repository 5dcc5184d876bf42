"""Size: Gmail clips an email whose HTML passes about 102 KB ("[Message clipped]", and the
unsubscribe link with the footer disappears); very large messages are slow or refused."""

from __future__ import annotations

from mailer.checks.base import CheckOptions, Finding, finding_maker, sample_html, sample_message
from mailer.compose.issue import LoadedIssue
from mailer.delivery.prepare import Prepared
from mailer.errors import Location

CHECK = "size"
GMAIL_CLIP_BYTES = 102_000
CLIP_WARNING_BYTES = 90_000
MESSAGE_WARNING_BYTES = 1_000_000
MESSAGE_LIMIT_BYTES = 10_000_000  # many mail servers refuse bigger messages

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
    return findings


def _kb(size: int) -> int:
    return round(size / 1000)
