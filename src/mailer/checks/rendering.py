"""Rendering: the email in a real headless Chromium at 375 px (a phone) and 600 px (desktop).

Nothing may stick out sideways: a page wider than the screen makes readers scroll to read every
line. The HTML checked is the one subscribers get (embedded images shown from their files).
Starting Chromium takes a second or two, so this check runs only when asked for
(``CheckOptions.render``); without Chromium it reports that it could not run, never crashes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.checks.base import CheckOptions, Finding, finding_maker, sample_html, yaml_location
from mailer.compose.issue import LoadedIssue
from mailer.delivery.prepare import Prepared
from mailer.errors import Location, MailerError
from mailer.preview.browser import INSTALL_HINT, WIDTHS, chromium, find_chromium, open_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHECK = "rendering"
_finding = finding_maker(CHECK)

# Runs in the page: how wide the document is, which images stick out, and the element that
# most likely causes it (to name it in the finding): among the innermost elements that stick
# out, one whose own text or picture sticks out, else the most deeply nested one.
_MEASURE = """() => {
  const width = window.innerWidth;
  const out = (r) => r.width > 0 && (r.right > width + 1 || r.left < -1);
  const images = [...document.images]
    .filter((img) => out(img.getBoundingClientRect()))
    .map((img) => ({alt: img.alt, src: img.getAttribute("src") || ""}));
  const contentOut = (el) => {
    if (["IMG", "VIDEO", "SVG", "CANVAS", "IFRAME", "INPUT"].includes(el.tagName)) return true;
    const range = document.createRange();
    return [...el.childNodes].some((node) => {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) return false;
      range.selectNodeContents(node);
      return out(range.getBoundingClientRect());
    });
  };
  const depth = (el) => { let d = 0; for (; el; el = el.parentElement) d++; return d; };
  let culprit = null, best = -1;
  for (const el of document.body.querySelectorAll("*")) {
    if (!out(el.getBoundingClientRect())
        || [...el.children].some((child) => out(child.getBoundingClientRect()))) continue;
    const score = (contentOut(el) ? 1000 : 0) + depth(el);
    if (score > best) {
      best = score;
      culprit = {tag: el.tagName.toLowerCase(),
                 text: (el.textContent || el.getAttribute("alt") || "").trim().slice(0, 80)};
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, images, culprit};
}"""


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    if not options.render:
        return []
    where = Location(loaded.path)
    if find_chromium() is None:
        return [_finding(
            "warning", f"rendering not checked: chromium not found ({INSTALL_HINT})", where,
            f"install Chromium ({INSTALL_HINT}), or look at the preview on a phone",
        )]
    with tempfile.TemporaryDirectory(prefix="mailer-render-") as folder:
        page_file = Path(folder) / "email.html"
        page_file.write_text(browser_html(prepared), encoding="utf-8")
        try:
            with chromium() as browser:
                measured = [(width, _measure(browser, page_file, width)) for width in WIDTHS]
        except MailerError as exc:
            return [_finding("warning", f"rendering not checked: {exc}", where,
                             "fix Chromium, or look at the preview on a phone")]
    findings = [found for width, result in measured for found in _findings(loaded, width, result)]
    if not findings:
        sizes = " and ".join(f"{width} px" for width in WIDTHS)
        findings.append(_finding("info", f"fits the screen in Chromium at {sizes}", where, ""))
    return findings


def browser_html(prepared: Prepared) -> str:
    """The sample reader's HTML with each embedded (``cid:``) image pointing at its file."""
    html = sample_html(prepared)
    for image in prepared.factory.content.images:
        html = html.replace(f"cid:{image.content_id}", image.path.resolve().as_uri())
    return html


def _measure(browser: Browser, page_file: Path, width: int) -> dict:
    page = open_page(browser, page_file, width)
    try:
        return page.evaluate(_MEASURE)
    finally:
        page.context.close()


def _findings(loaded: LoadedIssue, width: int, result: dict) -> list[Finding]:
    findings = []
    if result["scrollWidth"] > result["width"]:
        culprit = result["culprit"] or {"tag": "?", "text": ""}
        text = culprit["text"]
        findings.append(_finding(
            "error", f"at {width} px the email is {result['scrollWidth']} px wide, so readers "
            f"must scroll sideways (it is the <{culprit['tag']}> '{text[:60]}')",
            yaml_location(loaded, text[:40]) if text else Location(loaded.path),
            "break up the long word or address in that text, or make the element narrower",
        ))
    for image in result["images"]:
        name = image["alt"] or Path(image["src"]).name
        findings.append(_finding(
            "error", f"at {width} px the image '{name[:60]}' sticks out of the screen",
            yaml_location(loaded, image["alt"][:40]) if image["alt"] else Location(loaded.path),
            "the template's images must shrink with the screen (MJML's mj-image does)",
        ))
    return findings
