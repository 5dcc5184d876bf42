"""Rendering: the HTML and text a subscriber gets, and each known trap of MJML and premailer."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import lxml.html
import pytest
from projects import SOCIAL_URLS

from mailer.compose.images import EmbeddedImages
from mailer.compose.issue import load_issue
from mailer.compose.render import compile_mjml, inline_css, render_issue
from mailer.errors import MailerError
from mailer.settings import load_settings

ISSUE = """
id: render-test
subject: Hello {{ subscriber.first_name | default("friend") }}
preheader: The preheader line
period: "December 2017 – March 2018"
lead:
  title: "Lead <script>alert('x')</script>"
  image: {src: assets/photo.png, alt: "Ambassador Thompson with the Mayor", caption: "At the
    centre.", credit: "IOM / Lanna Walsh"}
  body: |
    Dear {{ subscriber.first_name | default("friend") }}, **strong** and *soft*,
    <b>raw tag</b> and [a link](https://turkiye.iom.int/a) and [bad](javascript:alert(1)).
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/lead?utm_source={{ subscriber.email }}
sections:
  - title: Highlights
    items:
      - title: Item with image
        image: {src: assets/photo.png, alt: "Coast guard boat"}
        body: Item body.
        links: [{label: Read more, url: "https://turkiye.iom.int/b"}]
"""


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


@pytest.fixture
def rendered(project):
    path = project.write_issue(ISSUE)
    loaded = load_issue(path, load_settings(project.settings))
    return render_issue(loaded, EmbeddedImages("iom.int"))


def test_markup_in_yaml_shows_as_text(rendered):
    page = parse(rendered.html)
    assert not [attrs for tag, attrs in page.tags if tag == "script"]
    assert not [attrs for tag, attrs in page.tags if tag == "b"]
    text = "".join(page.text)
    assert "Lead <script>alert('x')</script>" in text
    assert "<b>raw tag</b>" in text
    hrefs = [attrs.get("href") or "" for tag, attrs in page.tags if tag == "a"]
    assert not [href for href in hrefs if href.lower().startswith("javascript:")]


def test_markdown_subset_becomes_html(rendered):
    assert "<strong>strong</strong>" in rendered.html
    assert "<em>soft</em>" in rendered.html
    hrefs = [attrs.get("href") for tag, attrs in parse(rendered.html).tags if tag == "a"]
    assert "https://turkiye.iom.int/a" in hrefs


def test_document_language_direction_title_and_one_h1(rendered):
    page = parse(rendered.html)
    html_attrs = next(attrs for tag, attrs in page.tags if tag == "html")
    assert (html_attrs["lang"], html_attrs["dir"]) == ("en", "ltr")
    wrapper = next(attrs for tag, attrs in page.tags if attrs.get("role") == "article")
    assert (wrapper["lang"], wrapper["dir"]) == ("en", "ltr")
    assert [tag for tag, _ in page.tags].count("h1") == 1
    assert re.search(r"<title>Hello MFQX\w+XQMF</title>", rendered.html)
    tables = [attrs for tag, attrs in page.tags if tag == "table"]
    assert tables and all(attrs.get("role") == "presentation" for attrs in tables)


def test_styles_are_inlined_and_media_queries_keep_important(rendered):
    page = parse(rendered.html)
    h2 = [attrs for tag, attrs in page.tags if tag == "h2"]
    assert h2 and all("font-size:22px" in attrs["style"].replace(" ", "") for attrs in h2)
    media = re.findall(r"@media[^{]*\{.*?\}\s*\}", rendered.html, re.S)
    assert media, "MJML's media queries must survive inlining"
    assert any("!important" in block for block in media), "mobile stacking needs !important"


def test_doctype_survives_premailer(rendered):
    assert rendered.html.startswith("<!DOCTYPE html>")


def test_merge_field_in_href_is_not_url_encoded(rendered):
    hrefs = [attrs.get("href") or "" for tag, attrs in parse(rendered.html).tags if tag == "a"]
    lead = next(h for h in hrefs if h.startswith("https://turkiye.iom.int/news/lead"))
    assert re.fullmatch(r"https://turkiye\.iom\.int/news/lead\?utm_source=MFQX\w+XQMF", lead)
    assert "%7B" not in rendered.html and "{{" not in rendered.html


def test_no_web_fonts_or_third_party_icons(rendered):
    assert "fonts.googleapis.com" not in rendered.html
    assert "mailjet.com" not in rendered.html
    srcs = [attrs["src"] for tag, attrs in parse(rendered.html).tags if tag == "img"]
    assert srcs and all(src.startswith("cid:") for src in srcs)


def test_social_links_follow_not_share(rendered):
    hrefs = {attrs.get("href") for tag, attrs in parse(rendered.html).tags if tag == "a"}
    for url in SOCIAL_URLS:
        assert url in hrefs
    assert not any("sharer" in (href or "") for href in hrefs)


def test_every_image_has_alt_text(rendered):
    images = [attrs for tag, attrs in parse(rendered.html).tags if tag == "img"]
    assert all("alt" in attrs for attrs in images)
    alts = {attrs["alt"] for attrs in images}
    assert {"Ambassador Thompson with the Mayor", "Coast guard boat", "Facebook"} <= alts


def test_repeated_read_more_links_are_named_after_their_story(rendered):
    """In the link's own text, hidden by inline styles (Outlook.com and Yahoo strip
    aria-label): a screen reader hears the story's title after "Read more"."""
    document = lxml.html.document_fromstring(rendered.html)
    names = {" ".join(a.text_content().split()): a for a in document.iter("a")}
    link = names["Read more: Item with image"]
    (hidden,) = link.find_class("m-sr")
    style = hidden.get("style")
    for rule in ("width:1px", "height:1px", "overflow:hidden", "opacity:0", "mso-hide:all"):
        assert rule in style
    assert " ".join(link.text.split()) == "Read more"


def test_footer_has_unsubscribe_link_and_postal_address(rendered):
    page = parse(rendered.html)
    assert any(
        tag == "a" and attrs.get("href") == "MFQXunsubXQMF" for tag, attrs in page.tags
    )
    assert "Çankaya, Ankara" in "".join(page.text)


def test_text_part_is_readable_at_72_columns_with_every_link(rendered):
    lines = rendered.text.splitlines()
    assert all(len(line) <= 72 for line in lines if "://" not in line)
    assert "Read more:\nhttps://turkiye.iom.int/news/lead?utm_source=MFQX" in rendered.text
    for url in (
        "https://turkiye.iom.int/a",
        "https://turkiye.iom.int/b",
        "https://www.facebook.com/IOM/",
    ):
        assert url in rendered.text
    assert "Lead <script>alert('x')</script>" in rendered.text
    assert "[Photo: At the centre. (IOM / Lanna Walsh)]" in rendered.text
    assert "Unsubscribe:\nMFQXunsubXQMF" in rendered.text


def test_right_to_left_issue_is_mirrored(project):
    path = project.write_issue("id: ar\nsubject: نشرة\nlanguage: ar\nlead:\n  title: مرحبا\n")
    html = render_issue(
        load_issue(path, load_settings(project.settings)), EmbeddedImages("iom.int")
    ).html
    page = parse(html)
    html_attrs = next(attrs for tag, attrs in page.tags if tag == "html")
    assert (html_attrs["lang"], html_attrs["dir"]) == ("ar", "rtl")
    cells = [attrs.get("style", "") for tag, attrs in page.tags if tag == "td"]
    assert any("direction:rtl" in style.replace(" ", "") for style in cells)
    assert any("text-align:right" in style.replace(" ", "") for style in cells)


def test_unknown_mjml_tag_is_refused_not_passed_through():
    with pytest.raises(MailerError, match=r"unknown MJML tag <mj-bogus>"):
        compile_mjml("<mjml><mj-body><mj-bogus>x</mj-bogus></mj-body></mjml>")


def test_inliner_never_fetches_remote_stylesheets():
    html = (
        '<!doctype html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>p { color: red }</style></head><body><p>x</p></body></html>"
    )
    out = inline_css(html)
    assert '<p style="color:red">x</p>' in out
    assert out.startswith("<!DOCTYPE html>")


def test_preheader_is_hidden_at_the_top_without_coloured_text(rendered):
    """The first text of the body, hidden as inboxes expect, but not by colouring it like the
    background (which spam filters score as a trick), and followed by invisible spacers so the
    inbox preview stops after it."""
    body = lxml.html.document_fromstring(rendered.html).body
    first = next(text for text in body.itertext() if text.strip())
    assert first.startswith("The preheader line")
    spacer = first[len("The preheader line"):]
    assert len(spacer) > 100 and not spacer.strip("\u034f\u200c\u00a0")
    (div,) = body.xpath("//div[@class='m-preheader']")
    style = div.get("style").replace(" ", "")
    for rule in ("display:none", "mso-hide:all", "max-height:0", "opacity:0", "font-size:0"):
        assert rule in style
    assert "color" not in style


def test_the_templates_own_words_follow_the_issue_language(project):
    path = project.write_issue(
        "id: ar\nsubject: نشرة\nlanguage: ar\nlead:\n  title: مرحبا\n"
        "  image: {src: assets/photo.png, alt: صورة, credit: IOM / Lanna Walsh}\n"
    )
    rendered = render_issue(
        load_issue(path, load_settings(project.settings)), EmbeddedImages("iom.int")
    )
    for part in (rendered.html, rendered.text):
        assert "إلغاء الاشتراك" in part and "Unsubscribe" not in part
        assert "تصوير" in part and "Photo" not in part
    assert "تابعوا IOM Turkey:" in rendered.text


def test_dark_mode_styles_survive_inlining(rendered):
    """premailer inlines the light colours and leaves the dark ones alone, !important and
    attribute selectors included, for Apple Mail (prefers-color-scheme) and Outlook.com
    ([data-ogsc] text, [data-ogsb] backgrounds)."""
    html = rendered.html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    dark = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n\s*\}\s*</style>", html, re.S)
    assert dark and ".m-card > table { background: #171C26 !important;" in dark.group(1)
    assert "[data-ogsc] .m-story p" in html and "[data-ogsb] .m-card" in html
    assert "data-premailer" not in html  # the marker is gone, the styles stay


@pytest.mark.parametrize(
    ("language", "heading"), [("tr", "DİĞER HABERLER"), ("az-Latn", "DİĞER HABERLER"),
                              ("en", "DIĞER HABERLER")],
)
def test_the_text_parts_section_headings_are_capitalised_for_the_language(
    project, language, heading
):
    """Turkish capitalises i as İ; a merge field in a heading still fills in."""
    issue = project.write_issue(
        f"id: caps\nsubject: s\nlanguage: {language}\nsections:\n  - title: "
        "'Diğer haberler, {{ subscriber.first_name }}'\n    items:\n      - title: t\n"
    )
    text = render_issue(load_issue(issue, load_settings(project.settings)),
                        EmbeddedImages("iom.int")).text
    assert re.search(f"^{heading}, MFQX[a-z0-9]+XQMF$", text, re.M)  # the token intact
