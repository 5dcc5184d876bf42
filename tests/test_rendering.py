"""The email in a real headless Chromium (Debian's ``chromium``): nothing sticks out sideways
at 375 px or 600 px, and ``mailer preview --screenshots`` saves the four pictures."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mailer.checks import CheckOptions, rendering
from mailer.cli import app
from mailer.compose.issue import load
from mailer.delivery.prepare import Prepared, prepare
from mailer.errors import MailerError
from mailer.preview.browser import WIDTHS, chromium, open_page, take_screenshots

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["2018-03-iom-turkey", "2021-01-project-update"]
RENDER = CheckOptions(offline=True, render=True)

needs_chromium = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(),
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def browser_test(test):
    """Marked ``browser``; skipped, saying why, only where /usr/bin/chromium is missing."""
    return pytest.mark.browser(needs_chromium(test))


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


@pytest.fixture(scope="class")
def browser() -> Iterator:
    """One Chromium for a class; it closes before the next tests start their own."""
    with chromium() as browser:
        yield browser


@browser_test
class TestTheExamplesFitTheScreen:
    @pytest.mark.parametrize("width", WIDTHS)
    @pytest.mark.parametrize("example", EXAMPLES)
    def test_nothing_sticks_out(self, browser, example, width):
        with tempfile.TemporaryDirectory() as folder:
            page_file = Path(folder) / "email.html"
            page_file.write_text(rendering.browser_html(prepared(example)), encoding="utf-8")
            page = open_page(browser, page_file, width)
            layout = page.evaluate(LAYOUT)
            page.context.close()
        assert layout["width"] == width
        assert layout["scrollWidth"] <= width
        assert layout["images"]
        for image in layout["images"]:
            assert image["loaded"], image  # the embedded images are really there
            assert image["left"] >= 0 and image["right"] <= width, image


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
def test_preview_screenshots_writes_four_pngs(tmp_path, monkeypatch):
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
    assert "pip install 'mailer[browser]'" in findings[0].message
    with pytest.raises(MailerError, match=r"pip install 'mailer\[browser\]'"):
        take_screenshots(project.root / "index.html")
