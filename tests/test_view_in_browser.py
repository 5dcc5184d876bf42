"""The issue's page on the newsletter's site: the email links to it ("View in browser") in the
reader's language once ``[archive] base_url`` is set, and ``render_page`` makes that page from
the email's design with nothing of any reader in it."""

from __future__ import annotations

from dataclasses import replace

import lxml.html
import pytest

from mailer.checks import CheckOptions, accessibility
from mailer.compose.editions import load_editions
from mailer.compose.images import SiteImages
from mailer.compose.render import render_page
from mailer.delivery.prepare import prepare
from mailer.settings import load_settings

BASE = "https://news.example.org/letters/"
ISSUE = """
id: 2026-03
subject: News for {{ subscriber.first_name | default("friend") }}
preheader: What happened this spring.
period: March 2026
date: 2026-03-31
lead:
  title: A story
  image: {src: assets/photo.png, alt: A water point}
  body: Hello {{ subscriber.first_name | default("there") }}, the pumps run.
  links: [{label: Read more, url: "https://turkiye.iom.int/a?who={{ subscriber.email }}"}]
"""
TURKISH = """
subject: Haberler
language: tr
lead:
  title: Bir haber
  image: {alt: Bir su noktası}
  body: Merhaba, pompalar çalışıyor.
  links: [{label: Devamını okuyun}]
"""
ARABIC = """
subject: أخبار
language: ar
lead:
  title: خبر
  image: {alt: نقطة مياه}
  body: مرحبا، المضخات تعمل.
  links: [{label: اقرأ المزيد}]
"""


@pytest.fixture
def editions(project):
    """The issue with a Turkish and an Arabic edition, in a project with a site address."""
    with project.settings.open("a", encoding="utf-8") as settings:
        settings.write(f'\n[archive]\nbase_url = "{BASE}"\n')
    path = project.write_issue(ISSUE, "2026-03.yaml")
    project.write_issue(TURKISH, "2026-03.tr.yaml")
    project.write_issue(ARABIC, "2026-03.ar.yaml")
    return {loaded.issue.language: loaded for loaded in load_editions(path).chosen}


def view_link(html: str) -> tuple[str, str]:
    document = lxml.html.document_fromstring(html)
    (link,) = document.cssselect(".m-view-text a")
    return link.get("href"), link.text_content()


def test_the_email_links_to_its_page_above_the_masthead(editions):
    prepared = prepare(editions["en"], real_send=False)
    html = prepared.rendered.html
    assert view_link(html) == (f"{BASE}2026-03/", "View in browser")
    assert html.index("View in browser") < html.index("<h1")
    assert prepared.rendered.text.splitlines()[:3] == ["View in browser:", f"{BASE}2026-03/", ""]


@pytest.mark.parametrize(
    ("language", "words"), [("tr", "Tarayıcıda görüntüle"), ("ar", "عرض في المتصفح")]
)
def test_each_edition_links_to_its_own_page_in_its_language(editions, language, words):
    prepared = prepare(editions[language], real_send=False)
    assert view_link(prepared.rendered.html) == (f"{BASE}2026-03/{language}/", words)
    assert prepared.rendered.text.splitlines()[:2] == [f"{words}:", f"{BASE}2026-03/{language}/"]


def test_without_a_site_address_there_is_no_link(project):
    path = project.write_issue(ISSUE)
    rendered = prepare(load_editions(path).default, real_send=False).rendered
    assert "m-view" not in rendered.html.split("</head>")[1]
    assert "View in browser" not in rendered.text


def test_the_link_keeps_the_email_accessible(editions):
    loaded = editions["ar"]  # right to left, where the link sits on the left
    prepared = prepare(loaded, real_send=False)
    errors = [
        finding for finding in accessibility.check(loaded, prepared, options=CheckOptions())
        if finding.severity == "error"
    ]
    assert errors == []


def test_the_page_is_the_email_for_nobody(editions, project):
    loaded = editions["en"]
    images = SiteImages("../")
    page = render_page(loaded, images)
    document = lxml.html.document_fromstring(page)
    assert document.get("lang") == "en" and document.find(".//title").text == "News for friend"
    assert "Hello there, the pumps run." in document.text_content()
    assert "MFQX" not in page  # every merge field filled in
    hrefs = [a.get("href") for a in document.iter("a")]
    assert "https://turkiye.iom.int/a?who=" in hrefs  # a reader's address: nobody's here
    settings = load_settings(project.settings).settings
    assert not [h for h in hrefs if "unsubscribe" in h or h.startswith("mailto:")]
    assert settings.footer.reason not in page  # "you are receiving this because..."
    assert settings.footer.postal_address.split(",")[0] in page
    assert "What happened this spring." not in page  # the preheader is for inboxes
    assert "View in browser" not in page  # it is the page
    assert "<script" not in page
    sources = {img.get("src") for img in document.iter("img")}
    assert all(src.startswith("../images/") for src in sources)
    assert sorted(images.files) == sorted(src.removeprefix("../") for src in sources)
    photo = next(place for place in images.files if place.startswith("images/photo."))
    assert images.files[photo] == project.root / "issues" / "assets" / "photo.png"
    prepared = prepare(loaded, real_send=False)
    web = replace(prepared, rendered=replace(prepared.rendered, html=page))
    assert not [
        finding for finding in accessibility.check(loaded, web, options=CheckOptions())
        if finding.severity == "error"
    ]
