"""Every client, every length (issue 21): buttons tall enough to tap and drawn by classic
Outlook too, a 40-story issue under Gmail's clipping, headline-only stories as a list with an
"In this issue" list in a long issue, link context that survives webmail, Arabic set as Arabic
(upright quotes, Arabic faces, Outlook's tables right to left, no English word), iOS metas;
and ``mailer check`` holding a project's own theme to each of these."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import lxml.html
import pytest
from browsers import browser_test
from long_issue import long_issue
from projects import REPO

from mailer.checks import CheckOptions, outlook, rendering, size
from mailer.checks.base import sample_html
from mailer.compose.bidi import ghost_tables
from mailer.compose.issue import load
from mailer.compose.theme import theme_for
from mailer.compose.wording import labels_for
from mailer.delivery.prepare import Prepared, prepare
from mailer.preview.browser import open_page

OFFLINE = CheckOptions(offline=True)
SEED_004 = REPO / "issues" / "2018-03-iom-turkey.yaml"
SEED_000 = REPO / "issues" / "2021-01-project-update.yaml"

# An Arabic issue long enough for "In this issue", with a photo, a quote and a
# headline-only story; the project's settings add the footer and the seven social links.
SHORT_ARABIC = """
id: arabic
subject: أخبار المنظمة في تركيا
preheader: أخبار مكتب المنظمة في تركيا.
language: ar
lead:
  title: ورشة عمل حول سوق العمل
  image: {src: assets/photo.png, alt: المشاركون في الورشة, caption: المشاركون., credit: IOM}
  body: شارك 25 شخصًا في الورشة.
  links:
    - {label: اقرأ المزيد, url: "https://turkiye.iom.int/news/lead"}
sections:
  - title: أبرز الأحداث
    items:
      - title: مشاورات ثنائية مع الحكومة
        image: {src: assets/photo.png, alt: قارب خفر السواحل}
        body: نص الخبر.
        links:
          - {label: اقرأ المزيد, url: "https://turkiye.iom.int/b"}
      - body: قال دلباز من الحسكة.
        quote: {text: كان الأمر صعبًا في البداية., attribution: دلباز، من الحسكة}
"""
ARABIC = SHORT_ARABIC + "".join(
    f"      - title: خبر رقم {n}\n        links:\n"
    f'          - {{label: اقرأ المزيد, url: "https://turkiye.iom.int/n{n}"}}\n'
    for n in range(1, 12)
)


def ready(path: Path) -> Prepared:
    return prepare(load(path), real_send=False)


@cache
def example(path: Path) -> Prepared:
    return ready(path)


def document(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html)


def page_file(prepared: Prepared, folder: Path) -> Path:
    path = folder / "email.html"
    path.write_text(rendering.browser_html(prepared), encoding="utf-8")
    return path


def problems(module, prepared: Prepared, options: CheckOptions = OFFLINE) -> list[str]:
    findings = module.check(prepared.loaded, prepared, options=options)
    return [f.message for f in findings if f.severity != "info"]


# ---- Buttons, icons and links in classic Outlook and on a phone ------------------------------


def test_every_button_has_outlook_markup():
    """Each button's link sits in a cell Outlook pads (mso-padding-alt); the lead's filled
    button is also drawn as a VML rounded rectangle for Outlook."""
    html = example(SEED_004).rendered.html
    links = document(html).xpath("//a[contains(@class, 'm-cta') or contains(@class, 'm-button')]")
    assert len(links) >= 12
    for link in links:
        cell = next(link.iterancestors("td"))
        assert "mso-padding-alt" in cell.get("style"), lxml.html.tostring(link)
    lead_url = example(SEED_004).loaded.issue.lead.links[0].url
    assert re.search(rf'<v:roundrect [^>]*href="{re.escape(lead_url)}', html)
    assert outlook.buttons_without_outlook_markup(html) == (len(links), [])


def test_link_context_is_in_the_link_and_not_only_in_aria_label():
    links = document(example(SEED_004).rendered.html).xpath("//a[contains(@class, 'm-cta')]")
    for link in links:
        assert link.get("aria-label") is None
        (hidden,) = link.find_class("m-sr")
        assert len(hidden.text_content()) > 10
        assert "width:1px" in hidden.get("style") and "mso-hide:all" in hidden.get("style")


@browser_test
class TestOnAPhone:
    def test_buttons_footer_links_and_icons_are_big_enough_to_tap(self, browser, tmp_path):
        page = open_page(browser, page_file(example(SEED_004), tmp_path), 375)
        sizes = page.evaluate("""() => {
          const boxes = (selector) => [...document.querySelectorAll(selector)]
            .map((el) => el.getBoundingClientRect()).map((r) => [r.width, r.height]);
          return {buttons: boxes("a.m-cta, a.m-button"), icons: boxes(".m-social img"),
                  footer: boxes(".m-footer-text a")};
        }""")
        page.context.close()
        assert len(sizes["buttons"]) >= 12 and len(sizes["icons"]) == 7
        assert min(height for _, height in sizes["buttons"]) >= 44
        assert min(min(box) for box in sizes["icons"]) >= 32
        assert min(height for _, height in sizes["footer"]) >= 44

    def test_arabic_quotes_are_upright_in_arabic_type(self, browser, project, tmp_path):
        path = page_file(ready(project.write_issue(SHORT_ARABIC)), tmp_path)
        page = open_page(browser, path, 375)
        quote = page.evaluate("""() => {
          const style = getComputedStyle(document.querySelector("blockquote p"));
          const box = getComputedStyle(document.querySelector("blockquote"));
          return {style: style.fontStyle, family: style.fontFamily, colour: style.color,
                  border: box.borderRightWidth,
                  ratio: parseFloat(style.lineHeight) / parseFloat(style.fontSize)};
        }""")
        page.context.close()
        assert quote["style"] == "normal"
        # Marked instead by the border on its reading side and the headlines' colour.
        assert quote["border"] == "4px" and quote["colour"] == "rgb(0, 51, 160)"
        assert quote["family"].startswith("Tahoma")
        assert quote["ratio"] == pytest.approx(1.7, abs=0.05)


# ---- Long issues -----------------------------------------------------------------------------


def test_a_forty_story_issue_fits_under_gmails_clipping(project):
    """40 stories with titles, bodies and links, every fourth with a photo, and the footer
    with the unsubscribe link: under 102 KB of HTML, and `check` says nothing about size."""
    prepared = ready(project.write_issue(long_issue()))
    html = sample_html(prepared)
    assert len(html.encode("utf-8")) < size.GMAIL_CLIP_BYTES
    assert html.count('class="m-cta"') == 40 and html.count("<img") >= 10
    assert "MFQXunsubXQMF" not in html and "Unsubscribe" in html  # the reader's own link
    errors = [f for f in size.check(prepared.loaded, prepared, options=OFFLINE)
              if f.severity == "error"]
    assert errors == []


def test_the_size_check_holds_a_theme_to_a_forty_story_issue(project):
    """A theme that spends 3 KB on every story passes with a short issue but not for a long
    one: the check says so from the short issue."""
    template = project.root / "templates" / "newsletter.mjml.j2"
    text = template.read_text(encoding="utf-8")
    heavy = "{{ story_text(items[0]) }}<!--[if mso]><p>" + "x" * 3000 + "</p><![endif]-->"
    template.write_text(text.replace("{{ story_text(items[0]) }}", heavy, 1), encoding="utf-8")
    prepared = ready(project.write_issue(long_issue(stories=4)))
    (warning,) = problems(size, prepared)
    assert "an issue of 40 such stories would be" in warning and "clipped by Gmail" in warning


def test_a_long_issue_opens_with_jump_links_to_its_stories():
    html = document(example(SEED_004).rendered.html)
    (contents,) = html.find_class("m-contents")
    targets = [a.get("href") for a in contents.iter("a")]
    assert len(targets) == 13  # seed 004's 22 stories, 13 with a headline
    for target in targets:
        (story,) = html.xpath(f"//*[@id='{target[1:]}']")
        assert story.text_content().strip()
    assert "In this issue" in contents.text_content()
    assert not document(example(SEED_000).rendered.html).find_class("m-contents")


def test_headline_only_stories_are_a_list_whose_headline_is_the_link():
    html = document(example(SEED_004).rendered.html)
    items = html.xpath("//ul[contains(@class, 'm-list')]/li[.//a[contains(@class, 'm-item')]]")
    assert len(items) == 10  # seed 004's nine "title + Read more" and one "+ Watch here"
    (link,) = next(li for li in items if "Bilateral Consultation" in li.text_content()).iter("a")
    assert link.get("href").endswith("bilateral-consultation-between-iom-and-government-turkey")
    assert " ".join(link.text_content().split()) == (
        "Bilateral Consultation between IOM and the Government of Turkey Read more"
    )


# ---- Arabic and iOS --------------------------------------------------------------------------


def test_arabic_outlook_tables_run_right_to_left_and_no_english_word_is_shown(project):
    prepared = ready(project.write_issue(ARABIC))
    html = prepared.rendered.html
    tables = ghost_tables(html)
    assert len(tables) >= 10
    assert [tag for tag in tables if 'dir="rtl"' not in tag] == []
    assert problems(outlook, prepared) == []
    root = document(html).body
    shown = " ".join([root.text_content(), *root.xpath("//img/@alt"), *root.xpath("//img/@title")])
    theme = theme_for(project.root)
    english = set(labels_for(theme, "en", "IOM Turkey").values())
    english |= {name for key, name in theme.network_names("en").items()
                if theme.network_names("ar")[key] != name}
    assert "Website" in english and "In this issue" in english
    assert [word for word in english if word in shown] == []


def test_the_outlook_check_finds_ghost_tables_without_a_direction(project):
    prepared = ready(project.write_issue(ARABIC))
    html = prepared.rendered.html.replace('<table dir="rtl"', "<table", 3)
    broken = replace(prepared, rendered=replace(prepared.rendered, html=html))
    (message,) = problems(outlook, broken)
    assert 'Outlook-only tables have no dir="rtl"' in message


def test_the_outlook_check_finds_a_theme_whose_buttons_outlook_cannot_draw(project):
    template = project.root / "templates" / "newsletter.mjml.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("mso-padding-alt:11px 18px;", ""), encoding="utf-8")
    prepared = ready(project.write_issue(long_issue(stories=4)))
    (message,) = problems(outlook, prepared)
    assert message.startswith("4 of 4 button(s) have no markup for classic Outlook")


@pytest.mark.parametrize("example_path", [SEED_004, SEED_000])
def test_ios_keeps_its_hands_off_the_layout_and_the_footer(example_path):
    head = document(example(example_path).rendered.html).head
    metas = {meta.get("name"): meta.get("content") for meta in head.iter("meta")}
    assert "x-apple-disable-message-reformatting" in metas
    detection = {part.strip() for part in metas["format-detection"].split(",")}
    assert detection == {"telephone=no", "address=no", "email=no", "date=no"}


# ---- The rendering check holds a project's own theme to it ----------------------------------


@browser_test
def test_the_rendering_check_finds_small_buttons_small_icons_and_slanted_arabic(project):
    template = project.root / "templates" / "newsletter.mjml.j2"
    text = template.read_text(encoding="utf-8")
    for old, new in (("padding:11px 18px;", "padding:4px 8px;"),
                     ('width="32" height="32"', 'width="20" height="20"'),
                     ("font-style: {{ quote_style }}", "font-style: italic")):
        assert old in text
        text = text.replace(old, new)
    template.write_text(text, encoding="utf-8")
    prepared = ready(project.write_issue(SHORT_ARABIC))
    messages = problems(rendering, prepared, CheckOptions(offline=True, render=True))
    messages = [m for m in messages if "contrast" not in m]
    assert any("button(s) are less than 44 px tall" in m for m in messages), messages
    assert any("linked icon(s) are smaller than 32 px" in m for m in messages), messages
    assert any("are set in italics" in m for m in messages), messages
