"""``mailer preview --publish FOLDER``: a review copy colleagues open on a phone, from any host.

The head of office and the translators approve an issue without installing anything: the
copy is plain files (``FOLDER/<token>/``) for any static host. Its page shows every edition
with its subject and preheader, at a phone's width and a desktop's, light and dark, and its
text part; each version also opens alone. Everything is rendered for the sample reader, so no
subscriber's data is in any file.

Dark: a reviewer's phone shows only the scheme it is set to, so the dark version is a copy of
the email whose ``prefers-color-scheme: dark`` rules always apply (the theme's dark palette,
as Apple Mail shows it to a reader in dark mode).

Unlisted, not secret: the copy is under a folder name nobody can guess
(:func:`secrets.token_urlsafe`), every page says ``noindex`` and ``FOLDER/robots.txt``
turns robots away (robots read it only at a host's root: publish ``FOLDER`` there, or beside
the archive). Anyone given the address can read it, as anyone will read the issue once sent.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from mailer.compose.editions import Editions, normalise_tag
from mailer.compose.issue import LoadedIssue
from mailer.errors import UsageError, WriteFailed
from mailer.preview.browser import WIDTHS
from mailer.preview.files import sample_of

TOKEN_BYTES = 18  # 24 characters, 144 random bits
NOINDEX = '<meta name="robots" content="noindex">'
ROBOTS = "User-agent: *\nDisallow: /\n"
INDEX = "index.html"
LIGHT, DARK, TEXT = "email.html", "email-dark.html", "text.html"
_DARK_RULES = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.I)
_SCHEMES = re.compile(r"(color-scheme\s*[:=]\s*\"?)light dark", re.I)
_HEAD = re.compile(r"<head[^>]*>", re.I)


@dataclass(frozen=True)
class ReviewCopy:
    """Where the copy was written, and its address once published (None: no base_url)."""

    folder: Path  # FOLDER/<token>
    url: str | None


@dataclass(frozen=True)
class _Shown:
    """One edition on the review page."""

    tag: str
    direction: str
    subject: str
    preheader: str
    text: str


def publish_review(editions: Editions, folder: Path) -> ReviewCopy:
    """Write the review copy of ``editions`` into a new folder of ``folder`` named by a token.

    UsageError when ``folder`` is the archive's own site folder, whose robots.txt it would
    replace with one that turns every robot away from the whole site.
    """
    settings = editions.default.settings
    site = settings.resolve(settings.settings.archive.out)
    target = folder.resolve()
    if target == site:
        raise UsageError(
            f"--publish {folder}: that is the archive's site ([archive] out), and the review "
            "copy's robots.txt would hide the whole site from search engines: publish into a "
            f"folder of its own, such as {folder / 'review'}"
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    copy = target / token
    try:
        shown = [_write_edition(loaded, copy) for loaded in editions.chosen]
        _write(copy / INDEX, _index_page(editions.issue_id, shown))
        _write(target / "robots.txt", ROBOTS)
    except OSError as exc:
        raise WriteFailed(f"cannot write {exc.filename or copy}: {exc.strerror}") from None
    return ReviewCopy(copy, _url(settings.settings.archive.base_url, site, target, token))


def _url(base_url: str | None, site: Path, target: Path, token: str) -> str | None:
    """The copy's address under ``[archive] base_url``: inside the archive's site folder, its
    place there; else ``FOLDER`` is taken to be published at ``base_url`` itself."""
    if base_url is None:
        return None
    place = target.relative_to(site).as_posix() + "/" if target.is_relative_to(site) else ""
    return f"{base_url.rstrip('/')}/{place}{token}/"


def _write_edition(loaded: LoadedIssue, copy: Path) -> _Shown:
    tag = normalise_tag(loaded.issue.language)
    out = copy / tag
    sample = sample_of(loaded, out)
    _write(out / LIGHT, with_noindex(sample.html))
    _write(out / DARK, with_noindex(always_dark(sample.html)))
    _write(out / TEXT, _text_page(tag, loaded.issue.text_direction, sample.subject, sample.text))
    return _Shown(tag, loaded.issue.text_direction, sample.subject, sample.preheader,
                  sample.text)


def with_noindex(page: str) -> str:
    """``page`` with ``<meta name="robots" content="noindex">`` first in its head."""
    head = _HEAD.search(page)
    if head is None:
        return NOINDEX + page
    return page[: head.end()] + NOINDEX + page[head.end() :]


def always_dark(page: str) -> str:
    """The email as a mail client in dark mode shows it: its dark rules unconditional."""
    return _SCHEMES.sub(r"\1dark", _DARK_RULES.sub("@media all", page))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


_STYLE = """
body { margin: 0; padding: 16px; font: 16px/1.5 system-ui, Arial, sans-serif;
  background: #F2F4F7; color: #222222; }
main { max-width: 1280px; margin: 0 auto; }
h1 { font-size: 24px; line-height: 1.25; margin: 0 0 8px 0; overflow-wrap: anywhere; }
section { background: #FFFFFF; padding: 16px; margin: 0 0 24px 0; border-radius: 6px; }
dl { margin: 0 0 12px 0; }
dt { font-weight: bold; }
dd { margin: 0 0 8px 0; overflow-wrap: anywhere; }
.frames { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; min-width: 0; max-width: 100%; }
figcaption { font-weight: bold; margin: 0 0 4px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
iframe { display: block; height: 900px; border: 1px solid #8A94A6; background: #FFFFFF; }
.phone iframe { width: 375px; max-width: 100%; }
.desktop iframe { width: 600px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #F7F8FA; padding: 12px;
  font-size: 14px; }
a { color: #0033A0; }
"""

# Same-origin frames grow to their email's height, so the page scrolls and not each frame;
# where a host or the browser makes that impossible (file://), they keep 900 px and scroll.
_FIT = (
    "try{this.style.height=this.contentDocument.documentElement.scrollHeight+2+'px'}"
    "catch(e){}"
)


def _page(language: str, direction: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{language}" dir="{direction}">\n<head>\n'
        f'<meta charset="utf-8">\n{NOINDEX}\n<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _text_page(tag: str, direction: str, subject: str, text: str) -> str:
    return _page(tag, direction, f"{subject} (text part)",
                 f'<h1>{html.escape(subject)}</h1>\n<pre dir="auto">{html.escape(text)}</pre>')


def _frame(src: str, label: str, kind: str) -> str:
    frame = (f'<iframe src="{src}" title="{html.escape(label)}" loading="lazy" '
             f'onload="{_FIT}"></iframe>')
    if kind == "desktop":  # wider than a phone: it scrolls inside its box, not the page
        frame = f'<div class="scroll">{frame}</div>'
    return f'<figure class="{kind}"><figcaption>{label}</figcaption>{frame}</figure>'


def _index_page(issue_id: str, shown: list[_Shown]) -> str:
    phone, desktop = WIDTHS
    parts = [
        f"<h1>Review copy: {html.escape(issue_id)}</h1>",
        "<p>What readers will get, personalised for a sample reader: every edition at a "
        f"phone's width ({phone} px) and a desktop's ({desktop} px), light and dark, and its "
        "text part. For the reviewers only: please do not share the address.</p>",
    ]
    if len(shown) > 1:
        parts.append("<p>Editions: " + " · ".join(
            f'<a href="#{e.tag}" hreflang="{e.tag}">{e.tag}</a>' for e in shown) + "</p>")
    for e in shown:
        light, dark, text = f"{e.tag}/{LIGHT}", f"{e.tag}/{DARK}", f"{e.tag}/{TEXT}"
        parts.append(
            f'<section id="{e.tag}">\n<h2>The {e.tag} edition</h2>\n'
            f'<dl lang="{e.tag}" dir="{e.direction}"><dt>Subject</dt>'
            f"<dd>{html.escape(e.subject)}</dd><dt>Preheader</dt>"
            f"<dd>{html.escape(e.preheader) or '(none)'}</dd></dl>\n"
            f'<p>Open alone: <a href="{light}">light</a> · <a href="{dark}">dark</a> · '
            f'<a href="{text}">text part</a></p>\n<div class="frames">\n'
            + "\n".join((
                _frame(light, f"Phone ({phone} px), light", "phone"),
                _frame(dark, f"Phone ({phone} px), dark", "phone"),
                _frame(light, f"Desktop ({desktop} px), light", "desktop"),
                _frame(dark, f"Desktop ({desktop} px), dark", "desktop"),
            ))
            + f'\n</div>\n<h3>Text part</h3>\n<pre lang="{e.tag}" dir="auto">'
            f"{html.escape(e.text)}</pre>\n</section>"
        )
    first = shown[0]
    return _page(first.tag, "ltr", f"Review copy: {issue_id}", "\n".join(parts))
