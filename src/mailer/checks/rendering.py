"""Rendering: the email in a real headless Chromium at 375 px (a phone) and 600 px (desktop),
in light and in dark mode (the mail app's setting, which ``prefers-color-scheme`` tells).

Nothing may stick out sideways: a page wider than the screen makes readers scroll to read every
line. Every text keeps at least 4.5:1 contrast with what is painted behind it, in dark mode
too, where the template's dark styles recolour the email. Every text runs in the issue's
direction (right to left in Arabic), but a run isolated on purpose, such as a URL. The HTML
checked is the one subscribers get (embedded images shown from their files). Starting Chromium
takes a second or two, so this check runs only when asked for (``CheckOptions.render``);
without Chromium it reports that it could not run, never crashes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.checks.base import (
    CheckOptions,
    Finding,
    finding_maker,
    sample_html,
    template_location,
    yaml_location,
)
from mailer.compose.bidi import has_rtl_letters, text_direction
from mailer.compose.issue import LoadedIssue
from mailer.compose.palette import contrast_ratio
from mailer.delivery.prepare import Prepared
from mailer.errors import Location, MailerError
from mailer.preview.browser import (
    INSTALL_HINT,
    WIDTHS,
    Scheme,
    chromium,
    each_view,
    find_chromium,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHECK = "rendering"
_finding = finding_maker(CHECK)
MIN_CONTRAST = 4.5
# The smallest touch targets on a phone: 44 px for a button (Apple's guidelines, WCAG 2.5.5),
# 32 px for an icon in a row with room around it.
PHONE_WIDTH = 375
MIN_BUTTON_PX = 44
MIN_ICON_PX = 32

# Runs in the page: how wide the document is, which images stick out, and the element that
# most likely causes it (to name it in the finding): among the innermost elements that stick
# out, one whose own text or picture sticks out, else the most deeply nested one.
_MEASURE = r"""() => {
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
  // Every element with text of its own that a reader can see: its colour, and the
  // background colours behind it, nearest first, down to the first opaque one; the direction
  // it runs in, and whether that is an inline run isolated on purpose (<span dir="ltr">).
  const texts = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes]
      .filter((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim())
      .map((node) => node.textContent.trim()).join(" ");
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!own || box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
    const layers = [];
    for (let at = el; at; at = at.parentElement) {
      const colour = getComputedStyle(at).backgroundColor;
      if (colour === "transparent" || colour === "rgba(0, 0, 0, 0)") continue;
      layers.push(colour);
      if (!colour.startsWith("rgba")) break;
    }
    const mark = el.closest("bdi, [dir]");
    const isolated = !!mark && mark !== document.documentElement
      && getComputedStyle(mark).display.startsWith("inline");
    texts.push({text: own.replace(/\s+/g, " ").slice(0, 80), colour: style.color, layers,
                direction: style.direction, isolated, italic: style.fontStyle !== "normal"});
  }
  // What a finger taps: links drawn as buttons (a box with a border or a background), and
  // small pictures that are links (social icons), with their size on the screen.
  const buttons = [], icons = [];
  for (const link of document.body.querySelectorAll("a")) {
    const style = getComputedStyle(link);
    const box = link.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const painted = parseFloat(style.borderTopWidth) > 0
      || !["transparent", "rgba(0, 0, 0, 0)"].includes(style.backgroundColor);
    if (painted && style.display !== "inline") {
      buttons.push({text: link.textContent.trim().slice(0, 40), height: box.height});
    }
    for (const img of link.querySelectorAll("img")) {
      const r = img.getBoundingClientRect();
      if (r.width > 0 && r.width < 64 && r.height < 64) {
        icons.push({alt: img.alt, width: r.width, height: r.height});
      }
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, images, culprit, texts,
          buttons, icons};
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
                measured = measure(browser, page_file)
        except MailerError as exc:
            return [_finding("warning", f"rendering not checked: {exc}", where,
                             "fix Chromium, or look at the preview on a phone")]
    findings: list[Finding] = []
    overflowing = set()
    for width, scheme, result in measured:
        if scheme == "dark" and width in overflowing:
            result = {**result, "scrollWidth": result["width"], "images": []}  # said once
        elif result["scrollWidth"] > result["width"] or result["images"]:
            overflowing.add(width)
        findings += _findings(loaded, width, scheme, result)
    findings += _direction(loaded, measured[0][2])  # the same at every width, in every mode
    findings += _italics(loaded, measured[0][2])
    findings += _touch_targets(loaded, next(
        result for width, scheme, result in measured if width == PHONE_WIDTH
    ))
    findings = list(dict.fromkeys(findings))  # the same text at both widths: one finding
    if not findings:
        sizes = " and ".join(f"{width} px" for width in WIDTHS)
        findings.append(_finding(
            "info", f"fits the screen in Chromium at {sizes}, and every text is readable in "
            "light and dark mode", where, "",
        ))
    return findings


def browser_html(prepared: Prepared) -> str:
    """The sample reader's HTML with each embedded (``cid:``) image pointing at its file."""
    html = sample_html(prepared)
    for image in prepared.factory.content.images:
        html = html.replace(f"cid:{image.content_id}", image.path.resolve().as_uri())
    return html


def measure(browser: Browser, page_file: Path) -> list[tuple[int, Scheme, dict]]:
    """At each width, light and dark: the page's width, what sticks out, and every visible
    text with its colours."""
    return [(width, scheme, page.evaluate(_MEASURE))
            for width, scheme, page in each_view(browser, page_file)]


def text_contrasts(result: dict, scheme: Scheme) -> list[tuple[str, str, str, float]]:
    """``(text, colour, background, ratio)`` for every visible text :func:`measure` found, the
    colours as the browser paints them (``#RRGGBB``, translucent layers blended)."""
    canvas = (255, 255, 255) if scheme == "light" else (0x12, 0x12, 0x12)
    found = []
    for text in result["texts"]:
        background: tuple[float, float, float] = canvas
        for layer in reversed(text["layers"]):
            background = _blend(_rgba(layer), background)
        colour = _blend(_rgba(text["colour"]), background)
        fg, bg = _hex(colour), _hex(background)
        found.append((text["text"], fg, bg, contrast_ratio(fg, bg)))
    return found


def texts_running_the_wrong_way(result: dict, direction: str) -> list[str]:
    """The texts :func:`measure` found that do not run in the issue's ``direction``, but for
    runs isolated on purpose that run the way their own letters do (a URL in an Arabic
    sentence, in ``<span dir="ltr">``)."""
    wrong = []
    for text in result["texts"]:
        runs = text["direction"]
        if runs == direction:
            continue
        if text["isolated"] and text_direction(text["text"]) in (runs, None):
            continue
        wrong.append(text["text"])
    return wrong


def _direction(loaded: LoadedIssue, result: dict) -> list[Finding]:
    expected = loaded.issue.text_direction
    wrong = texts_running_the_wrong_way(result, expected)
    if not wrong:
        return []
    other = "left to right" if expected == "rtl" else "right to left"
    example = wrong[0]
    return [_finding(
        "error", f"{len(wrong)} text(s) run {other} in Chromium in this "
        f"{'right-to-left' if expected == 'rtl' else 'left-to-right'} issue, such as "
        f"'{example[:60]}': readers meet their words and full stops in the wrong order",
        yaml_location(loaded, example[:40], template_location(loaded, "<mj-attributes")),
        'give every block direction="{{ direction }}" in the template (<mj-section> and '
        "<mj-column> in <mj-attributes>); put only a run written the other way, such as a "
        'URL, in <span dir="ltr">',
    )]


def _italics(loaded: LoadedIssue, result: dict) -> list[Finding]:
    """Right-to-left scripts have no italics: a browser slants Arabic letters, which readers
    take for a broken font."""
    if loaded.issue.text_direction != "rtl":
        return []
    slanted = [t["text"] for t in result["texts"] if t["italic"] and has_rtl_letters(t["text"])]
    if not slanted:
        return []
    return [_finding(
        "error", f"{len(slanted)} text(s) in a right-to-left script are set in italics in "
        f"Chromium, such as '{slanted[0][:60]}': the script has none, so the letters are only "
        "slanted", yaml_location(loaded, slanted[0][:40], template_location(loaded, "italic")),
        "set font-style: normal for right-to-left issues in the template (mark quotes with a "
        "border or a colour instead)",
    )]


def _touch_targets(loaded: LoadedIssue, result: dict) -> list[Finding]:
    """Buttons at least 44 px tall and icons at least 32 px, at a phone's width."""
    findings = []
    short = [b for b in result["buttons"] if b["height"] < MIN_BUTTON_PX - 0.5]
    if short:
        first = short[0]
        findings.append(_finding(
            "error", f"at {PHONE_WIDTH} px {len(short)} button(s) are less than "
            f"{MIN_BUTTON_PX} px tall, such as '{first['text']}' ({first['height']:.0f} px): "
            "too small to tap", template_location(loaded, "m-cta"),
            f"give the template's buttons padding and line height that add up to "
            f"{MIN_BUTTON_PX} px or more",
        ))
    small = [i for i in result["icons"] if min(i["width"], i["height"]) < MIN_ICON_PX - 0.5]
    if small:
        first = small[0]
        findings.append(_finding(
            "error", f"at {PHONE_WIDTH} px {len(small)} linked icon(s) are smaller than "
            f"{MIN_ICON_PX} px, such as '{first['alt']}' ({first['width']:.0f} px): too "
            "small to tap", template_location(loaded, "m-social"),
            f"show the template's icons at {MIN_ICON_PX} px or more (width and height)",
        ))
    return findings


def _rgba(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) > 3 else 1.0


def _blend(colour: tuple[float, ...], below: tuple[float, ...]) -> tuple[float, float, float]:
    alpha = colour[3]
    mixed = [c * alpha + b * (1 - alpha) for c, b in zip(colour[:3], below, strict=True)]
    return mixed[0], mixed[1], mixed[2]


def _hex(colour: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(c):02X}" for c in colour)


def _findings(loaded: LoadedIssue, width: int, scheme: Scheme, result: dict) -> list[Finding]:
    findings = []
    mode = "" if scheme == "light" else " in dark mode"
    if result["scrollWidth"] > result["width"]:
        culprit = result["culprit"] or {"tag": "?", "text": ""}
        text = culprit["text"]
        findings.append(_finding(
            "error", f"at {width} px{mode} the email is {result['scrollWidth']} px wide, so "
            f"readers must scroll sideways (it is the <{culprit['tag']}> '{text[:60]}')",
            yaml_location(loaded, text[:40]) if text else Location(loaded.path),
            "break up the long word or address in that text, or make the element narrower",
        ))
    for image in result["images"]:
        name = image["alt"] or Path(image["src"]).name
        findings.append(_finding(
            "error", f"at {width} px{mode} the image '{name[:60]}' sticks out of the screen",
            yaml_location(loaded, image["alt"][:40]) if image["alt"] else Location(loaded.path),
            "the template's images must shrink with the screen (MJML's mj-image does)",
        ))
    styles = template_location(
        loaded, "prefers-color-scheme" if scheme == "dark" else "<mj-style"
    )
    for text, fg, bg, ratio in text_contrasts(result, scheme):
        if ratio < MIN_CONTRAST:
            findings.append(_finding(
                "error", f"'{text[:60]}' is {fg} on {bg}{mode}: contrast {ratio:.2f}:1, below "
                f"{MIN_CONTRAST}:1", styles,
                f"give this text a colour with more contrast in the template's {scheme} styles "
                "(or change the brand colours in mailer.toml)",
            ))
    return findings
