"""Every reader in their own language and direction: an Arabic issue runs right to left in a
real Chromium, words and full stops in reading order, its photo columns mirrored; its text part
reads in a text client; the template's words and the footer come in the issue's language, and
``mailer check`` says when they would not."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from browsers import browser_test

from mailer.checks import CheckOptions, language, rendering
from mailer.compose import bidi
from mailer.compose.issue import load
from mailer.delivery.prepare import Prepared, prepare
from mailer.errors import ConfigError
from mailer.preview.browser import open_page
from mailer.settings import load_settings

OFFLINE = CheckOptions(offline=True)
RENDER = CheckOptions(offline=True, render=True)

# Every character that steers the bidirectional algorithm: marks, embeddings, overrides, isolates.
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
URL = re.compile(r"(?:https?://|mailto:)\S+")

ARABIC = """
id: workshop
subject: ورشة عمل في Şanlıurfa
preheader: أخبار مكتب المنظمة في تركيا.
language: ar
lead:
  title: ورشة عمل في Şanlıurfa حول سوق العمل
  image: {src: assets/photo.png, alt: المشاركون في الورشة, caption: المشاركون في الورشة.,
    credit: IOM / Lanna Walsh}
  body: |
    شارك 25 شخصًا في الورشة.

    اقرأ التقرير على https://turkiye.iom.int/news/sanliurfa/ أو [هنا](https://turkiye.iom.int/report).

    IOM تدعم المهاجرين في تركيا.
  links:
    - label: اقرأ المزيد
      url: https://turkiye.iom.int/news/lead
sections:
  - title: أبرز الأحداث
    items:
      - title: مشاورات ثنائية مع الحكومة
        image: {src: assets/photo.png, alt: قارب خفر السواحل}
        body: نص الخبر.
        links:
          - {label: اقرأ المزيد, url: "https://turkiye.iom.int/b"}
          - {label: شاهد الفيديو, url: "https://turkiye.iom.int/c"}
      - body: قال دلباز من الحسكة.
        quote: {text: كان الأمر صعبًا في البداية., attribution: دلباز، من الحسكة}
"""

ENGLISH = """
id: workshop
subject: Workshop in Şanlıurfa
language: en
lead:
  title: Workshop in Şanlıurfa on the labour market
  body: 25 people took part in the workshop.
sections:
  - title: Highlights
    items:
      - title: Bilateral consultation with the government
        image: {src: assets/photo.png, alt: A coast guard boat}
        body: The story.
"""

TURKISH = """
id: atolye
subject: Şanlıurfa'da atölye
language: tr
lead:
  title: Şanlıurfa'da işgücü piyasası atölyesi
  image: {src: assets/photo.png, alt: Atölyeye katılanlar, credit: IOM / Lanna Walsh}
  body: Atölyeye 25 kişi katıldı.
"""

REASON = {
    "ar": "تصلك هذه النشرة لأنك اشتركت في أخبار المنظمة الدولية للهجرة في تركيا.",
    "tr": "Bu bülteni, IOM Türkiye'nin haberlerine abone olduğunuz için alıyorsunuz.",
}
ENGLISH_REASON = "You are receiving this newsletter because you subscribed to news from IOM Turkey."


def prepared(project, text: str) -> Prepared:
    return prepare(load(project.write_issue(text)), real_send=False)


def page_file(ready: Prepared, tmp_path: Path) -> Path:
    path = tmp_path / "email.html"
    path.write_text(rendering.browser_html(ready), encoding="utf-8")
    return path


def findings(check, ready: Prepared, options: CheckOptions = OFFLINE):
    return [f for f in check.check(ready.loaded, ready, options=options) if f.severity != "info"]


# ---- In Chromium ----------------------------------------------------------------------------

# Each text node with letters, the direction its element computes, and whether it is an Arabic
# text; the text nodes inside an isolated left-to-right run (<span dir="ltr">) say so.
TEXT_NODES = r"""() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!/\p{L}/u.test(text)) continue;
    const element = node.parentElement;
    found.push({text: text.slice(0, 60), direction: getComputedStyle(element).direction,
                arabic: /\p{Script=Arabic}/u.test(text),
                isolated: !!element.closest('span[dir="ltr"]')});
  }
  return found;
}"""

# Where each word of ``words`` is drawn in the first element of ``selector`` holding them all.
WORD_BOXES = r"""([selector, words]) => {
  const element = [...document.querySelectorAll(selector)]
    .find((el) => words.every((word) => el.textContent.includes(word)));
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const boxes = {};
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const word of words) {
      const at = node.textContent.indexOf(word);
      if (at < 0 || word in boxes) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + word.length);
      const box = range.getBoundingClientRect();
      boxes[word] = {left: box.left, right: box.right, top: box.top};
    }
  }
  return boxes;
}"""

BOXES = r"""(selectors) => selectors.map((selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return {left: box.left, right: box.right, top: box.top, bottom: box.bottom};
})"""


@browser_test
class TestInChromium:
    def test_arabic_runs_right_to_left_and_reads_in_order(self, browser, project, tmp_path):
        """The acceptance test: every text with Arabic letters computes rtl; in the title the
        first Arabic word lies right of the Turkish place name after it, which lies right of
        the Arabic that follows; a sentence's full stop ends it on the left."""
        page = open_page(browser, page_file(prepared(project, ARABIC), tmp_path), 600)
        nodes = page.evaluate(TEXT_NODES)
        arabic = [node for node in nodes if node["arabic"]]
        assert len(arabic) > 15
        assert [n["text"] for n in arabic if n["direction"] != "rtl"] == []
        # Latin runs are rtl too, unless isolated on purpose: a URL, the postal address.
        latin = [n for n in nodes if not n["arabic"] and n["direction"] != "rtl"]
        assert latin and all(n["isolated"] for n in latin), latin
        assert any(n["text"] == "https://turkiye.iom.int/news/sanliurfa/" for n in latin)

        title = page.evaluate(WORD_BOXES, ["h2", ["ورشة", "Şanlıurfa", "حول"]])
        assert title["ورشة"]["left"] > title["Şanlıurfa"]["right"]
        assert title["Şanlıurfa"]["left"] > title["حول"]["right"]
        sentence = page.evaluate(WORD_BOXES, ["p", ["شارك", "25", "الورشة", "."]])
        assert sentence["شارك"]["left"] > sentence["25"]["right"]
        assert sentence["."]["right"] <= sentence["الورشة"]["left"] + 1
        # The URL and the slash it ends with stay together, between the words around them.
        url = page.evaluate(
            WORD_BOXES, ["p", ["على", "https://turkiye.iom.int/news/sanliurfa/", "أو"]]
        )
        assert url["على"]["left"] >= url["https://turkiye.iom.int/news/sanliurfa/"]["right"] - 1
        assert url["https://turkiye.iom.int/news/sanliurfa/"]["left"] >= url["أو"]["right"] - 1
        page.context.close()

    def test_english_runs_left_to_right(self, browser, project, tmp_path):
        page = open_page(browser, page_file(prepared(project, ENGLISH), tmp_path), 600)
        nodes = page.evaluate(TEXT_NODES)
        assert len(nodes) > 8
        assert [n["text"] for n in nodes if n["direction"] != "ltr"] == []
        title = page.evaluate(WORD_BOXES, ["h2", ["Workshop", "Şanlıurfa", "labour"]])
        assert title["Workshop"]["right"] < title["Şanlıurfa"]["left"]
        assert title["Şanlıurfa"]["right"] < title["labour"]["left"]
        page.context.close()

    @pytest.mark.parametrize(("text", "photo_side"), [(ARABIC, "right"), (ENGLISH, "left")])
    def test_photo_columns_mirror(self, browser, project, tmp_path, text, photo_side):
        """Beside the story at desktop width, on its reading side; above it on a phone."""
        path = page_file(prepared(project, text), tmp_path)
        page = open_page(browser, path, 600)
        photo, story = page.evaluate(BOXES, [".m-thumb img", ".m-beside h3"])
        page.context.close()
        if photo_side == "right":
            assert photo["left"] > story["right"]
        else:
            assert photo["right"] < story["left"]
        page = open_page(browser, path, 375)
        photo, story = page.evaluate(BOXES, [".m-thumb img", ".m-beside h3"])
        page.context.close()
        assert photo["bottom"] <= story["top"]

    def test_quote_links_social_row_and_footer_follow_the_reading_side(
        self, browser, project, tmp_path
    ):
        page = open_page(browser, page_file(prepared(project, ARABIC), tmp_path), 600)
        sides = page.evaluate("""() => {
          const quote = getComputedStyle(document.querySelector("blockquote"));
          const boxes = (selector) => [...document.querySelectorAll(selector)]
            .map((element) => element.getBoundingClientRect());
          const [first, second] = boxes(".m-beside .m-links a");
          const icons = boxes(".m-social img");
          const align = (selector) => getComputedStyle(document.querySelector(selector)).textAlign;
          return {right: quote.borderRightWidth, left: quote.borderLeftWidth,
                  links: first.left > second.right, icons: icons[0].left > icons[1].right,
                  aligned: [".m-caption p", ".m-footer-text p", ".m-social"].map(align)};
        }""")
        page.context.close()
        assert (sides["right"], sides["left"]) == ("4px", "0px")
        assert sides["links"] and sides["icons"]  # the first link and icon on the right
        assert sides["aligned"] == ["right", "right", "right"]



@browser_test
def test_the_rendering_check_finds_text_running_the_wrong_way(project):
    """(It starts its own Chromium, so it runs outside the class that shares one.)"""
    ready = prepared(project, ARABIC)
    assert findings(rendering, ready, RENDER) == []
    html = ready.rendered.html.replace("direction:rtl", "direction:ltr")
    broken = replace(ready, rendered=replace(ready.rendered, html=html))
    (error,) = findings(rendering, broken, RENDER)
    assert error.severity == "error"
    assert re.match(r"2\d text\(s\) run left to right in Chromium in this right-to-left "
                    r"issue, such as 'IOM Turkey'", error.message)  # every text there is
    assert error.location.path.name == "newsletter.mjml.j2"  # the masthead: the template's
    assert error.fix


# ---- The HTML and the text part -------------------------------------------------------------


def test_no_direction_ltr_is_left_in_arabic_html(project):
    html = prepared(project, ARABIC).rendered.html
    assert not re.search(r"direction\s*:\s*ltr", html, re.I)
    # Every section and column: the masthead, the lead, the section, the footer.
    assert len(re.findall(r"direction:rtl", html)) >= 8
    assert '<span dir="ltr">https://turkiye.iom.int/news/sanliurfa/</span>' in html
    assert '<span dir="ltr">IOM / Lanna Walsh</span>' in html


def test_the_language_check_refuses_direction_ltr_in_a_right_to_left_issue(project):
    template = project.root / "templates" / "newsletter.mjml.j2"
    source = template.read_text(encoding="utf-8")
    template.write_text(source.replace(' direction="{{ direction }}" />', " />"), encoding="utf-8")
    ready = prepared(project, ARABIC)
    (error,) = findings(language, ready)
    assert error.severity == "error"
    assert re.match(r"the HTML of this right-to-left issue says direction:ltr \d+ ", error.message)
    assert "<mj-attributes" in template.read_text().splitlines()[error.location.line - 1]
    spaced = ready.rendered.html.replace("direction:ltr", "Direction : LTR")
    spaced_ready = replace(ready, rendered=replace(ready.rendered, html=spaced))
    assert [f.severity for f in findings(language, spaced_ready)] == ["error"]
    assert findings(language, prepared(project, ENGLISH)) == []  # left to right: as it should


def test_the_text_part_keeps_urls_whole_and_on_their_own_lines(project):
    text = prepared(project, ARABIC).rendered.text
    urls = URL.findall(text)
    assert "https://turkiye.iom.int/news/sanliurfa/" in urls
    assert "https://turkiye.iom.int/report" in urls  # a Markdown link, without its brackets
    for line in text.splitlines():
        for url in URL.findall(line):
            assert line == url, line
            assert not BIDI_CONTROLS & set(url)
    # The full stop goes with the words before the URL, never to the start of a line.
    assert "اقرأ التقرير على\nhttps://turkiye.iom.int/news/sanliurfa/\nأو هنا.\n" in text
    # A line of Arabic that starts with a Latin word starts with a right-to-left mark.
    assert f"\n{bidi.RLM}IOM تدعم المهاجرين في تركيا.\n" in text
    assert not any(line.startswith(bidi.RLM) for line in text.splitlines() if URL.search(line))


NUMBERS = """
id: numbers
subject: الورشة في أرقام
language: ar
lead:
  title: 2024 في أرقام
  body: |
    25 شخصًا شاركوا في الورشة الأولى.

    ٣٠ شخصًا في الورشة الثانية.

    شارك 40 شخصًا في الورشة الثالثة.

    "12 شهرًا" من العمل في Şanlıurfa.

    2024: https://turkiye.iom.int/news/2024
"""


def test_a_line_of_arabic_that_starts_with_a_number_starts_with_a_right_to_left_mark(project):
    lines = prepared(project, NUMBERS).rendered.text.splitlines()
    for line in (
        "2024 في أرقام", "25 شخصًا شاركوا في الورشة الأولى.", "٣٠ شخصًا في الورشة الثانية.",
        '"12 شهرًا" من العمل في Şanlıurfa.',
    ):
        assert bidi.RLM + line in lines, line
    # A line that starts with an Arabic word runs right to left by itself: no mark.
    assert "شارك 40 شخصًا في الورشة الثالثة." in lines
    # The URL stays whole and alone on its line, without a mark; the number before it, with
    # no letter at all, gets one.
    assert lines[lines.index("https://turkiye.iom.int/news/2024") - 1] == bidi.RLM + "2024:"


def test_english_text_and_html_are_untouched_by_the_bidi_steps(project):
    ready = prepared(project, ENGLISH)
    assert not BIDI_CONTROLS & set(ready.rendered.text)
    assert "<span dir=" not in ready.rendered.html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://a.org/x. Then", "see.\nhttps://a.org/x\nThen"),
        ("(https://a.org/wiki/Foo_(bar)), then", "https://a.org/wiki/Foo_(bar),\nthen"),
        ("on https://a.org/wiki/Foo_(bar)", "on\nhttps://a.org/wiki/Foo_(bar)"),
        ("الرابط (https://a.org/x)، ثم", "الرابط،\nhttps://a.org/x\nثم"),
        ("https://a.org/x. first", "https://a.org/x.\nfirst"),
        ("one\n\nmailto:a@b.org", "one\n\nmailto:a@b.org"),
    ],
)
def test_urls_apart(text, expected):
    """Brackets round a URL go, the punctuation after it joins the words before it."""
    assert bidi.urls_apart(text, "rtl") == expected
    assert bidi.urls_apart(text, "ltr") == text


def test_isolate_urls_keeps_markup_and_escapes():
    html = '<p>قال &quot;https://a.org/?a=1&amp;b=2&quot; و<a href="https://b.org">https://b.org</a>.</p>'
    assert bidi.isolate_urls(html, "rtl") == (
        '<p>قال &#34;<span dir="ltr">https://a.org/?a=1&amp;b=2</span>&#34; و'
        '<a href="https://b.org"><span dir="ltr">https://b.org</span></a>.</p>'
    )
    assert bidi.isolate_urls(html, "ltr") == html


# ---- The template's words and the footer in the reader's language ---------------------------


@pytest.mark.parametrize(("text", "lang"), [(ARABIC, "ar"), (TURKISH, "tr")])
def test_footer_and_labels_follow_the_issue_language(project, text, lang):
    ready = prepared(project, text)
    unsubscribe = {"ar": "إلغاء الاشتراك", "tr": "Abonelikten çık"}[lang]
    photo = {"ar": "تصوير", "tr": "Fotoğraf"}[lang]
    for part in (ready.rendered.html, " ".join(ready.rendered.text.split())):
        assert REASON[lang] in part
        assert ENGLISH_REASON not in part
        assert unsubscribe in part and photo in part
        assert "Unsubscribe" not in part
    assert "Çankaya, Ankara" in ready.rendered.html  # the address as the post reads it
    assert findings(language, ready) == []


def test_a_default_language_sentence_is_a_warning_naming_the_setting(project):
    toml = project.settings.read_text(encoding="utf-8")
    project.settings.write_text(re.sub(r"\[footer\.ar\]\nreason = .*\n", "", toml), "utf-8")
    labels = project.root / "templates" / "labels.toml"
    labels.write_text(
        labels.read_text(encoding="utf-8").replace('photo = "تصوير"\n', ""), encoding="utf-8"
    )
    ready = prepared(project, ARABIC)
    assert ENGLISH_REASON in ready.rendered.html
    warnings = findings(language, ready)
    assert [f.severity for f in warnings] == ["warning", "warning"]
    photo, reason = warnings
    assert photo.message == (
        "readers of this 'ar' issue see the template word photo in 'en': 'Photo'"
    )
    assert photo.fix == 'add photo = "..." to the [ar] table of labels.toml'
    assert photo.location.path == labels
    assert labels.read_text().splitlines()[photo.location.line - 1] == "[ar]"
    assert reason.message.startswith(
        "readers of this 'ar' issue see the footer's reason in 'en': 'You are receiving"
    )
    assert reason.fix.startswith("add [footer.ar] reason to mailer.toml")
    # In the HTML the English sentence is isolated, so its full stop stays at its end.
    assert f'<span dir="ltr">{ENGLISH_REASON}</span>' in ready.rendered.html
    # The issue's own footer says it in Arabic: nothing to add.
    own = ARABIC.replace("language: ar\n", f"language: ar\nfooter: {{reason: {REASON['ar']}}}\n")
    assert [f.message for f in findings(language, prepared(project, own))] == [photo.message]


def test_the_default_theme_labels_fix_says_to_copy_labels_toml(project):
    (project.root / "templates" / "labels.toml").unlink()  # the default theme's words
    ready = prepared(project, ARABIC.replace("language: ar", "language: fa"))
    words = [f for f in findings(language, ready) if "template word" in f.message]
    assert {f.message.split(" word ")[1].split(" ")[0] for f in words} == {
        "photo", "unsubscribe", "follow"  # not view_in_browser: the site has no address
    }
    assert "copy " in words[0].fix and "templates/ folder first" in words[0].fix


def test_a_word_only_some_emails_show_is_named_once_they_show_it(project):
    (project.root / "templates" / "labels.toml").unlink()
    persian = ARABIC.replace("language: ar", "language: fa")
    with project.settings.open("a", encoding="utf-8") as settings:
        settings.write('\n[archive]\nbase_url = "https://news.example.org/"\n')
    words = [f for f in findings(language, prepared(project, persian))
             if "template word" in f.message]
    assert "view_in_browser" in {f.message.split(" word ")[1].split(" ")[0] for f in words}


# ---- mailer.toml: [footer.<tag>] ------------------------------------------------------------

FOOTER = """
[footer.pt]
reason = "Porque se inscreveu."
postal_address = "Rua 1, Lisboa"

[footer.pt-BR]
reason = "Porque você se inscreveu."
"""


def test_footer_for_language_takes_the_exact_tag_then_the_primary_then_the_base(project):
    project.settings.write_text(project.settings.read_text() + FOOTER, encoding="utf-8")
    footer = load_settings(project.settings).settings.footer
    assert footer.for_language("pt_br").reason == "Porque você se inscreveu."
    assert footer.for_language("PT-br").postal_address == "Rua 1, Lisboa"
    assert footer.for_language("pt-PT").reason == "Porque se inscreveu."
    assert footer.for_language("ar-SY").reason == REASON["ar"]
    assert footer.for_language("fr").reason == ENGLISH_REASON
    assert footer.for_language("pt").languages == {}


@pytest.mark.parametrize(
    ("table", "at", "message"),
    [
        ("[footer.ar]\nreasn = \"x\"\n", 2,
         "footer.ar.reasn: unknown field 'reasn' (did you mean 'reason'?)"),
        ("[footer.arabic]\nreason = \"x\"\n", 1, "footer.arabic: not a BCP 47 language tag"),
        ("[footer.de]\nreason = \"\"\n", 2, "footer.de.reason: string should have at least 1"),
    ],
)
def test_a_wrong_footer_table_is_a_located_error(project, table, at, message):
    toml = re.sub(r"\[footer\.ar\]\nreason = .*\n", "", project.settings.read_text())
    project.settings.write_text(toml + "\n" + table, encoding="utf-8")
    line = len(toml.splitlines()) + 1 + at
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings)
    assert f"mailer.toml:{line}: {message}" in str(caught.value)
