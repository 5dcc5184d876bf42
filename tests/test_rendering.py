"""The email in a real headless Chromium (Debian's ``chromium``): nothing sticks out sideways
at 375 px or 600 px, in light or dark mode; dark mode really recolours the email, with every
text readable; and ``mailer preview --screenshots`` saves the four pictures."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from browsers import browser_test
from PIL import Image
from typer.testing import CliRunner

from mailer.checks import CheckOptions, rendering
from mailer.cli import app
from mailer.compose.issue import load
from mailer.delivery.prepare import Prepared, prepare
from mailer.errors import MailerError
from mailer.preview.browser import SCHEMES, WIDTHS, chromium, open_page, take_screenshots

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["2018-03-iom-turkey", "2021-01-project-update"]
RENDER = CheckOptions(offline=True, render=True)

LAYOUT = """() => ({
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  images: [...document.images].map((img) => {
    const box = img.getBoundingClientRect();
    return {src: img.getAttribute("src"), left: box.left, right: box.right,
            loaded: img.complete && img.naturalWidth > 0};
  }),
})"""


def prepared(name: str) -> Prepared:
    return prepare(load(ROOT / "issues" / f"{name}.yaml"), real_send=False)


@browser_test
class TestTheExamplesFitTheScreen:
    @pytest.mark.parametrize("scheme", SCHEMES)
    @pytest.mark.parametrize("width", WIDTHS)
    @pytest.mark.parametrize("example", EXAMPLES)
    def test_nothing_sticks_out(self, browser, example, width, scheme):
        with tempfile.TemporaryDirectory() as folder:
            page_file = Path(folder) / "email.html"
            page_file.write_text(rendering.browser_html(prepared(example)), encoding="utf-8")
            page = open_page(browser, page_file, width, scheme)
            layout = page.evaluate(LAYOUT)
            page.context.close()
        assert layout["width"] == width
        assert layout["scrollWidth"] <= width
        assert layout["images"]
        for image in layout["images"]:
            assert image["loaded"], image  # the embedded images are really there
            assert image["left"] >= 0 and image["right"] <= width, image


@browser_test
class TestDarkMode:
    """Apple Mail and the like tell the email the reader's setting (prefers-color-scheme): the
    template's dark styles recolour it, and every text stays readable on what is behind it."""

    @pytest.mark.parametrize("example", EXAMPLES)
    def test_every_text_is_readable_in_both_modes(self, browser, example, tmp_path):
        page_file = tmp_path / "email.html"
        page_file.write_text(rendering.browser_html(prepared(example)), encoding="utf-8")
        least = {"light": 7.0, "dark": 4.5}
        measured = rendering.measure(browser, page_file)
        assert {(width, scheme) for width, scheme, _ in measured} == {
            (width, scheme) for width in WIDTHS for scheme in SCHEMES
        }
        for width, scheme, result in measured:
            found = rendering.text_contrasts(result, scheme)
            assert len(found) > 20  # headlines, paragraphs, links, footer: all measured
            poor = [(text, fg, bg, round(r, 2)) for text, fg, bg, r in found if r < least[scheme]]
            assert poor == [], (scheme, width)

    def test_dark_mode_recolours_the_email(self, browser, tmp_path):
        page_file = tmp_path / "email.html"
        page_file.write_text(rendering.browser_html(prepared(EXAMPLES[0])), encoding="utf-8")
        colours = {}
        for width, scheme, result in rendering.measure(browser, page_file):
            if width == 600:
                found = rendering.text_contrasts(result, scheme)
                colours[scheme] = {text: (fg, bg) for text, fg, bg, _ in found}
        story = next(t for t in colours["light"] if t.startswith("IOM Deputy Director General"))
        assert colours["light"][story] == ("#222222", "#FFFFFF")
        assert colours["dark"][story] == ("#E6E9EF", "#171C26")
        heading = "IOM Turkey Highlights"
        assert colours["light"][heading][0] == "#0033A0"
        assert colours["dark"][heading][0] == "#9DBBFF"

    def test_a_dark_logo_takes_the_place_of_the_light_one(self, browser, project, tmp_path):
        assets = project.root / "issues" / "assets"
        Image.new("RGBA", (320, 96), (0, 0, 0, 0)).save(assets / "logo-dark.png")
        settings = project.settings.read_text(encoding="utf-8")
        project.settings.write_text(settings.replace(
            'logo_alt = ', 'logo_dark = "issues/assets/logo-dark.png"\nlogo_alt = '
        ), encoding="utf-8")
        path = project.write_issue("id: logos\nsubject: Logos\nlead:\n  title: A story\n")
        page_file = tmp_path / "email.html"
        page_file.write_text(
            rendering.browser_html(prepare(load(path), real_send=False)), encoding="utf-8"
        )
        shown = """() => [...document.querySelectorAll('.m-logo img')]
            .filter((img) => img.getBoundingClientRect().height > 0)
            .map((img) => img.getAttribute('src').split('/').pop())"""
        for scheme, logo in (("light", "iom-logo.png"), ("dark", "logo-dark.png")):
            page = open_page(browser, page_file, 375, scheme)
            assert page.evaluate(shown) == [logo], scheme
            page.context.close()


@browser_test
def test_the_rendering_check_finds_text_dark_mode_leaves_unreadable(project):
    path = project.write_issue("""
        id: credit
        subject: Credit
        lead:
          title: A story
          image: {src: assets/photo.png, alt: A photo, credit: IOM / Lanna Walsh}
          body: Its first paragraph.
        """)
    ready = prepare(load(path), real_send=False)
    html = ready.rendered.html.replace(".m-caption .m-credit,", "")  # the dark rule, gone
    assert html != ready.rendered.html
    ready = replace(ready, rendered=replace(ready.rendered, html=html))
    errors = [
        f for f in rendering.check(ready.loaded, ready, options=RENDER) if f.severity == "error"
    ]
    assert len(errors) == 1, errors  # once, though seen at both widths
    assert "Photo: IOM / Lanna Walsh" in errors[0].message
    assert "in dark mode: contrast" in errors[0].message
    template = errors[0].location.path  # the template's dark styles, where the fix goes
    assert "prefers-color-scheme" in template.read_text().splitlines()[errors[0].location.line - 1]


@browser_test
def test_the_rendering_check_passes_the_examples():
    ready = prepared("2021-01-project-update")
    findings = rendering.check(ready.loaded, ready, options=RENDER)
    assert [f.severity for f in findings] == ["info"]
    assert "fits the screen" in findings[0].message


@browser_test
def test_a_wide_text_fails_the_rendering_check(project):
    path = project.write_issue("""
        id: wide
        subject: Wide
        lead:
          title: Wide
          body: AVeryLongWordThatNeverBreaks
        """)
    ready = prepare(load(path), real_send=False)
    wide = ready.rendered.html.replace(
        "AVeryLongWordThatNeverBreaks", '<span style="display:inline-block;width:900px">'
        "AVeryLongWordThatNeverBreaks</span>"
    )
    ready = replace(ready, rendered=replace(ready.rendered, html=wide))
    findings = rendering.check(ready.loaded, ready, options=RENDER)
    errors = [f for f in findings if f.severity == "error"]
    assert [e.message.split(" the email")[0] for e in errors] == ["at 375 px", "at 600 px"]
    assert "AVeryLongWordThatNeverBreaks" in errors[0].message
    assert errors[0].location.line == 5  # the body in the YAML
    assert errors[0].fix


@browser_test
def test_preview_screenshots_writes_four_pngs_and_dark_is_dark(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, [
        "preview", f"issues/{EXAMPLES[1]}.yaml", "--out", str(tmp_path), "--no-serve",
        "--screenshots",
    ])
    assert result.exit_code == 0, result.output
    folder = tmp_path / EXAMPLES[1]
    shots = sorted(path.name for path in folder.glob("screenshot-*.png"))
    assert shots == [
        "screenshot-375-dark.png", "screenshot-375-light.png",
        "screenshot-600-dark.png", "screenshot-600-light.png",
    ]
    with Image.open(folder / "screenshot-375-light.png") as picture:
        assert picture.width == 375 and picture.height > 800  # the whole page, not the window
    for width in WIDTHS:
        with Image.open(folder / f"screenshot-{width}-light.png") as light, \
                Image.open(folder / f"screenshot-{width}-dark.png") as dark:
            assert light.size == dark.size
            assert light.tobytes() != dark.tobytes()
            # Beside the first story, below the masthead: white by day, dark at night.
            assert sum(light.convert("RGB").getpixel((8, 400))) > 700
            assert sum(dark.convert("RGB").getpixel((8, 400))) < 150


def test_without_chromium_the_check_warns_instead_of_crashing(monkeypatch):
    monkeypatch.setattr(rendering, "find_chromium", lambda: None)
    ready = prepared(EXAMPLES[1])
    (finding,) = rendering.check(ready.loaded, ready, options=RENDER)
    assert finding.severity == "warning"
    assert finding.message == (
        "rendering not checked: chromium not found (apt-get install chromium)"
    )


def test_without_playwright_the_check_warns_and_screenshots_say_how_to_install(
    project, monkeypatch
):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails
    monkeypatch.setattr("mailer.preview.browser.find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(rendering, "find_chromium", lambda: "/usr/bin/chromium")
    path = project.write_issue("id: x\nsubject: Hello\nlead:\n  title: A story\n")
    ready = prepare(load(path), real_send=False)
    findings = rendering.check(ready.loaded, ready, options=CheckOptions(render=True))
    assert [f.severity for f in findings] == ["warning"]
    assert "pip install 'newsletter-as-code[browser]'" in findings[0].message
    with pytest.raises(MailerError, match=r"pip install 'newsletter-as-code\[browser\]'"):
        take_screenshots(project.root / "index.html")


@browser_test
def test_a_long_link_label_wraps_inside_its_button(project, tmp_path):
    label = "Read the full report on the integration of refugees in Gaziantep municipality"
    path = project.write_issue(f"""
        id: long-label
        subject: A long label
        lead:
          title: A story
          body: Its first paragraph.
          links: [{{label: "{label}", url: "https://turkiye.iom.int/report"}}]
        sections:
          - title: More
            items:
              - title: With a photo
                image: {{src: assets/photo.png, alt: A water point}}
                links: [{{label: "{label}", url: "https://turkiye.iom.int/report2"}}]
        """)
    page_file = tmp_path / "email.html"
    page_file.write_text(
        rendering.browser_html(prepare(load(path), real_send=False)), encoding="utf-8"
    )
    with chromium() as browser:
        for width, scheme, result in rendering.measure(browser, page_file):
            assert result["scrollWidth"] <= width and result["images"] == [], (width, scheme)
