"""``mailer archive``: the newsletter's site from the issues sent so far, with every edition;
feeds that feed readers read, pages a screen reader reads, nothing of any reader in it, the same
bytes on every build, and only what changed written."""

from __future__ import annotations

import csv
import datetime
import email
import html
import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import feedparser
import lxml.html
import pytest
from projects import REPO, Project
from pytest_httpserver import HTTPServer
from sending import write_subscribers
from test_rendering import browser_test
from typer.testing import CliRunner

from mailer.archive import pages
from mailer.audience.subscribers import Subscriber
from mailer.checks import CheckOptions, accessibility
from mailer.checks import archive as checks_archive
from mailer.cli import app
from mailer.compose.editions import load_editions
from mailer.delivery.ledger import Ledger, Outcome
from mailer.delivery.prepare import prepare
from mailer.preview.browser import chromium, open_page

BASE = "https://news.example.org/"
LIST_ID = "newsletter.turkiye.iom.int"


def issue_text(issue_id: str, subject: str, *, date: str | None = "2026-01-31", extra: str = "",
               language: str = "en") -> str:
    dated = f"date: {date}\n" if date else ""
    return (
        f"id: {issue_id}\nsubject: {subject}\nlanguage: {language}\npreheader: About {subject}.\n"
        f"period: Winter\n{dated}{extra}lead:\n  title: {subject} story\n"
        "  image: {src: assets/photo.png, alt: A water point}\n"
        '  body: Hello {{ subscriber.first_name | default("there") }}, the news.\n'
        "  links: [{label: Read more, url: 'https://turkiye.iom.int/a'}]\n"
    )


TURKISH = """
subject: Kış haberleri
language: tr
preheader: Kışın olanlar.
lead:
  title: Bir haber
  image: {alt: Bir su noktası}
  body: Merhaba, haberler.
  links: [{label: Devamını okuyun}]
"""
ARABIC = """
subject: أخبار الشتاء
language: ar
preheader: ما حدث هذا الشتاء.
lead:
  title: خبر من Şanlıurfa
  image: {alt: نقطة مياه}
  body: مرحبا، الأخبار.
  links: [{label: اقرأ المزيد}]
"""


@pytest.fixture
def news(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with a site address and three dated issues, one with two editions."""
    with project.settings.open("a", encoding="utf-8") as settings:
        settings.write(f'\n[archive]\nbase_url = "{BASE}"\n')
    project.write_issue(issue_text("2025-11", "Autumn", date="2025-11-30"), "2025-11.yaml")
    project.write_issue(issue_text("2026-01", "Winter"), "2026-01.yaml")
    project.write_issue(TURKISH, "2026-01.tr.yaml")
    project.write_issue(ARABIC, "2026-01.ar.yaml")
    project.write_issue(issue_text("2026-02", "Thaw", date="2026-02-28"), "2026-02.yaml")
    monkeypatch.chdir(project.root)
    return project


def archive(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["archive", *map(str, args)])
    return result.exit_code, result.output


def built(project: Project, *args: str | Path) -> Path:
    code, output = archive(*args)
    assert code == 0, output
    return project.root / "site"


def files_of(site: Path) -> dict[str, bytes]:
    return {
        path.relative_to(site).as_posix(): path.read_bytes()
        for path in sorted(site.rglob("*")) if path.is_file()
    }


def mark_sent(project: Project, issue_id: str, when: float) -> None:
    """The ledger says ``issue_id`` reached a reader at ``when`` (and another one later)."""
    with Ledger(project.root / ".mailer" / "ledger.sqlite3") as ledger:
        ledger.fill(issue_id, [Subscriber("ayse@example.org"), Subscriber("omar@example.net")])
        first, second = ledger.claim(issue_id, 2)
        for row, at in ((first, when), (second, when + 3600)):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr("time.time", lambda at=at: at)
                ledger.record([Outcome(row.id, "sent")])


def test_only_sent_issues_are_published_dated_by_their_first_send(news) -> None:
    code, output = archive()
    assert code == 1 and "nothing to publish: none of the 3 issue(s) in issues" in output
    sent = datetime.datetime(2026, 2, 3, 9, 30, tzinfo=datetime.UTC)
    mark_sent(news, "2026-01", sent.timestamp())
    site = built(news)
    assert sorted(files_of(site)) == [
        "2026-01/ar/index.html", "2026-01/index.html", "2026-01/tr/index.html", "ar/index.html",
        "feed.ar.xml", "feed.tr.xml", "feed.xml", *images(site), "index.html", "sitemap.xml",
        "tr/index.html",
    ]
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    (entry,) = feed.entries
    assert entry.id == f"tag:{LIST_ID},2026:2026-01" and entry.updated == "2026-02-03T09:30:00Z"


def images(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in (site / "images").iterdir())


def test_the_feeds_are_atom_that_feed_readers_read(news) -> None:
    site = built(news, "--all")
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0 and feed.version == "atom10"
    # RFC 4287: a feed has an id, a title, an updated time and an author (4.1.1); so has
    # every entry but the author (4.1.2); without an alternate link, it needs content.
    assert feed.feed.id == f"tag:{LIST_ID},2025:feed"
    assert feed.feed.title == "IOM Turkey Newsletter" and feed.feed.language == "en"
    assert feed.feed.updated == "2026-02-28T00:00:00Z"  # the newest entry's, not the build's
    assert feed.feed.author_detail.name == "IOM Turkey"
    assert {(link.rel, link.href) for link in feed.feed.links} == {
        ("self", f"{BASE}feed.xml"), ("alternate", BASE),
    }
    assert [e.id for e in feed.entries] == [
        f"tag:{LIST_ID},2026:2026-02", f"tag:{LIST_ID},2026:2026-01", f"tag:{LIST_ID},2025:2025-11",
    ]
    newest = feed.entries[0]
    assert newest.title == "Thaw" and newest.updated == "2026-02-28T00:00:00Z"
    assert newest.link == f"{BASE}2026-02/" and newest.summary == "About Thaw."
    (content,) = newest.content
    assert content.type == "text/html"
    body = lxml.html.fragment_fromstring(content.value, create_parent="div")
    assert "Hello there, the news." in body.text_content()
    sources = [img.get("src") for img in body.iter("img")]
    assert sources and all(src.startswith(f"{BASE}images/") for src in sources)  # xml:base
    assert "<!--" not in content.value and "unsubscribe" not in content.value.lower()

    turkish = feedparser.parse((site / "feed.tr.xml").read_bytes())
    assert turkish.bozo == 0 and turkish.feed.id == f"tag:{LIST_ID},2025:feed:tr"
    (entry,) = turkish.entries
    assert entry.id == f"tag:{LIST_ID},2026:2026-01/tr" and entry.title == "Kış haberleri"
    assert entry.link == f"{BASE}2026-01/tr/"


def test_every_page_is_accessible(news) -> None:
    site = built(news, "--all")
    # The check compares a page's language with its issue's: one edition for each language.
    editions = load_editions(news.root / "issues" / "2026-01.yaml").chosen
    by_language = {loaded.issue.language: loaded for loaded in editions}
    pages_found = sorted(site.rglob("*.html"))
    assert len(pages_found) == 8  # 5 issue pages (3 editions of one issue), 3 indexes
    for page in pages_found:
        html = page.read_text(encoding="utf-8")
        document = lxml.html.document_fromstring(html)
        where = page.relative_to(site)
        assert document.get("lang") and document.get("dir"), where
        assert document.find(".//title").text.strip(), where
        assert len(document.findall(".//h1")) == 1, where
        assert all(img.get("alt") is not None for img in document.iter("img")), where
        assert "<script" not in html and "http://" not in html.split("</head>")[1], where
        loaded = by_language[document.get("lang")]
        prepared = prepare(loaded, real_send=False)
        checked = replace(prepared, rendered=replace(prepared.rendered, html=html))
        errors = [
            f for f in accessibility.check(loaded, checked, options=CheckOptions())
            if f.severity == "error"
        ]
        assert errors == [], where
    arabic = lxml.html.parse(str(site / "2026-01" / "ar" / "index.html")).getroot()
    assert (arabic.get("lang"), arabic.get("dir")) == ("ar", "rtl")


def test_with_hosted_images_the_pages_show_those(news) -> None:
    hosted = "https://images.example.org/news/"
    text = news.settings.read_text()
    news.settings.write_text(text.replace("[send]\n", f'[send]\nimage_base_url = "{hosted}"\n'))
    site = built(news, "--all")
    page = lxml.html.parse(str(site / "2026-02" / "index.html")).getroot()
    sources = {img.get("src") for img in page.iter("img")}
    assert f"{hosted}photo.png" in sources and all(s.startswith(hosted) for s in sources)
    assert not (site / "images").exists()


def test_editions_point_at_each_other_and_each_language_has_its_index(news) -> None:
    site = built(news, "--all")
    page = lxml.html.parse(str(site / "2026-01" / "tr" / "index.html")).getroot()
    alternates = {
        link.get("hreflang"): link.get("href")
        for link in page.iter("link") if link.get("rel") == "alternate" and link.get("hreflang")
    }
    assert alternates == {
        "ar": f"{BASE}2026-01/ar/", "en": f"{BASE}2026-01/", "tr": f"{BASE}2026-01/tr/",
        "x-default": f"{BASE}2026-01/",
    }
    (canonical,) = [link for link in page.iter("link") if link.get("rel") == "canonical"]
    assert canonical.get("href") == f"{BASE}2026-01/tr/"
    bar = {a.text_content(): a.get("href") for a in page.cssselect("nav a")}
    assert bar == {
        "Tüm sayılar": "../../tr/", "English": "../../2026-01/", "Türkçe": "../../2026-01/tr/",
        "العربية": "../../2026-01/ar/",
    }
    # The site's language lists every issue, newest first; Turkish only the Turkish edition.
    root = lxml.html.parse(str(site / "index.html")).getroot()
    assert [a.text_content() for a in root.cssselect("main h2 a")] == ["Thaw", "Winter", "Autumn"]
    assert [p.text_content() for p in root.cssselect("main li > p:not(.site-period)")] == [
        "About Thaw.", "About Winter.", "About Autumn.",
    ]
    turkish = lxml.html.parse(str(site / "tr" / "index.html")).getroot()
    assert turkish.get("lang") == "tr"
    assert [(a.text_content(), a.get("href")) for a in turkish.cssselect("main h2 a")] == [
        ("Kış haberleri", "../2026-01/tr/"),
    ]
    # Each index names the newsletter in its own language (archive_title in labels.toml).
    arabic = lxml.html.parse(str(site / "ar" / "index.html")).getroot()
    mastheads = [page.cssselect(".site-masthead h1")[0].text_content()
                 for page in (root, turkish, arabic)]
    assert mastheads == ["IOM Turkey Newsletter", "IOM Turkey Bülteni", "نشرة IOM Turkey"]
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    assert re.findall(r"<loc>(.*?)</loc>", sitemap) == [
        BASE, f"{BASE}ar/", f"{BASE}tr/", f"{BASE}2026-02/", f"{BASE}2026-01/",
        f"{BASE}2026-01/ar/", f"{BASE}2026-01/tr/", f"{BASE}2025-11/",
    ]


def test_building_twice_gives_the_same_bytes(news, tmp_path) -> None:
    site = built(news, "--all")
    first = files_of(site)
    code, output = archive("--all")
    assert code == 0 and "0 file(s) written" in output
    # From nothing (no cache, another folder): byte for byte the same site.
    os.rename(news.root / ".mailer", tmp_path / "old-cache")
    other = built(news, "--all", "--out", tmp_path / "again")
    assert files_of(other) == first


def test_a_new_issue_rewrites_only_its_pages_the_indexes_feeds_and_sitemap(
    news, monkeypatch
) -> None:
    site = built(news, "--all")
    long_ago = 1_600_000_000
    for path in site.rglob("*"):
        os.utime(path, (long_ago, long_ago))
    before = files_of(site)
    rendered = []
    render_page = pages.render_page

    def counted(loaded, images):
        rendered.append(loaded.issue.id)
        return render_page(loaded, images)

    monkeypatch.setattr(pages, "render_page", counted)
    news.write_issue(issue_text("2026-03", "Spring", date="2026-03-31"), "2026-03.yaml")
    built(news, "--all")
    after = files_of(site)
    changed = {path for path in after if before.get(path) != after[path]}
    touched = {
        path.relative_to(site).as_posix() for path in site.rglob("*")
        if path.is_file() and path.stat().st_mtime != long_ago
    }
    assert rendered == ["2026-03"]  # the others came from the cache, neither loaded nor rendered
    assert changed == touched == {
        "2026-03/index.html", "index.html", "feed.xml", "sitemap.xml",
    }


def test_an_issue_marked_archive_false_appears_nowhere(news) -> None:
    secret = issue_text("2026-02-internal", "Staff retreat", extra="archive: false\n")
    news.write_issue(secret.replace("the news", "Kumquat budget"), "internal.yaml")
    site = built(news, "--all")
    for path, data in files_of(site).items():
        text = data.decode("utf-8", errors="replace")
        assert "2026-02-internal" not in path and "2026-02-internal" not in text, path
        assert "Staff retreat" not in text and "Kumquat" not in text, path
    # An issue published once and then marked archive: false is taken off the site, and what
    # mailer never wrote (GitHub Pages' CNAME) stays.
    (site / "CNAME").write_text("news.example.org\n")
    thaw = news.root / "issues" / "2026-02.yaml"
    thaw.write_text(thaw.read_text().replace("date:", "archive: false\ndate:"))
    code, output = archive("--all")
    assert code == 0 and "1 removed" in output
    assert not (site / "2026-02").exists() and (site / "CNAME").is_file()
    assert "Thaw" not in (site / "index.html").read_text() + (site / "feed.xml").read_text()


def test_an_unsent_issue_without_a_date_is_an_error_at_its_file(news) -> None:
    news.write_issue(issue_text("2026-04", "Undated", date=None), "2026-04.yaml")
    code, output = archive("--all")
    assert code == 2
    assert output.startswith("Error: ") and len(output.strip().splitlines()) == 1
    assert f"{news.root / 'issues' / '2026-04.yaml'}:1:1: date: 2026-04 was never sent" in output
    assert not (news.root / "site").exists()


def test_one_issue_and_the_errors_of_the_command(news, monkeypatch) -> None:
    site = built(news, "--all", "--issue", "2025-11")
    assert sorted(p.name for p in site.iterdir()) == [
        "2025-11", "feed.xml", "images", "index.html", "sitemap.xml",
    ]
    code, output = archive("--all", "--issue", "1999-01")
    assert (code, output.strip()) == (2, "Error: no issue in issues has the id 1999-01")
    code, output = archive("--issue", "2025-11")
    assert code == 1 and "2025-11 has not been sent" in output
    code, output = archive("--ledger", "missing.sqlite3")
    assert (code, output.strip()) == (2, "Error: no send ledger at missing.sqlite3")
    settings = news.settings.read_text().replace(f'base_url = "{BASE}"', "")
    news.settings.write_text(settings)
    code, output = archive("--all")
    line = settings.splitlines().index("[archive]") + 1
    assert code == 2 and f"mailer.toml:{line}: archive.base_url: mailer archive needs" in output


def test_an_id_the_site_uses_itself_or_twice_is_an_error(news) -> None:
    news.write_issue(issue_text("images", "Pictures"), "pictures.yaml")
    code, output = archive("--all")
    assert code == 2 and "pictures.yaml:1:1: id: the site uses the name images" in output
    news.write_issue(issue_text("2025-11", "Again"), "pictures.yaml")
    code, output = archive("--all")
    assert code == 2 and "pictures.yaml:1:1: id: 2025-11.yaml has the id 2025-11" in output


def test_a_real_send_leaves_nothing_of_its_readers_in_the_site(news) -> None:
    write_subscribers(news.root / "subscribers.example.csv", 12)
    result = CliRunner().invoke(app, ["send", "issues/2026-01.yaml", "--yes"])
    assert result.exit_code == 0, result.output
    messages = [
        email.message_from_bytes(path.read_bytes())
        for path in (news.root / "outbox" / "new").iterdir()
    ]
    assert len(messages) == 12
    with open(news.root / "subscribers.example.csv", encoding="utf-8", newline="") as listed:
        readers = list(csv.DictReader(listed))
    needles = {value for reader in readers for value in reader.values() if len(value) > 3}
    for message in messages:  # each reader's own unsubscribe token
        needles.add(re.search(r"token=([^&>]+)", message["List-Unsubscribe"]).group(1))
    assert len(needles) == 12 * 4  # address, name, first name, token: "Jr" is too short to seek
    site = built(news)
    cache = news.root / ".mailer" / "archive"
    everything = [*files_of(site).values(), *files_of(cache).values()]
    assert len(everything) > 10
    found = [
        needle for needle in needles for data in everything
        if needle.encode() in data or html.escape(needle).encode() in data
    ]
    assert found == []


def test_check_warns_while_the_page_is_not_built_or_not_online(news) -> None:
    path = news.root / "issues" / "2026-01.yaml"
    result = CliRunner().invoke(app, ["check", str(path), "--offline", "--json"])
    assert result.exit_code == 0, result.output  # a warning, never a reason to refuse
    findings = [f for f in json.loads(result.output)["findings"] if f["check"] == "archive"]
    line = news.settings.read_text().splitlines().index(f'base_url = "{BASE}"') + 1
    pages = ("2026-01/", "2026-01/ar/", "2026-01/tr/")  # one for each edition's page
    assert len(findings) == len(pages)
    for finding, page in zip(findings, pages, strict=True):
        assert finding["severity"] == "warning"
        assert finding["message"].endswith(
            f'the "View in browser" link goes to {BASE}{page}, and the site built in '
            f"{news.root / 'site'} has no page there yet"
        )
        assert finding["location"] == {"path": str(news.settings), "line": line, "column": None}
    built(news, "--all")
    loaded = {e.issue.language: e for e in load_editions(path).chosen}
    for edition in loaded.values():  # each edition's own page is there now
        assert checks_archive.check(edition, None, options=CheckOptions(offline=True)) == []
    # Online, the published page must answer 200.
    with HTTPServer(host="127.0.0.1", port=0) as server:
        site = server.url_for("/")
        news.settings.write_text(news.settings.read_text().replace(BASE, site))
        turkish = load_editions(path, edition="tr").chosen[0]
        online = CheckOptions(offline=False)
        server.expect_request("/2026-01/tr/").respond_with_data("", status=404)
        (finding,) = checks_archive.check(turkish, None, options=online)
        assert finding.severity == "warning"
        assert finding.message.endswith(f"{site}2026-01/tr/ does not open yet: it answers HTTP 404")
        server.clear()
        server.expect_request("/2026-01/tr/").respond_with_data("<html>", status=200)
        assert checks_archive.check(turkish, None, options=online) == []


@browser_test
def test_every_page_fits_phones_and_desktops_in_chromium(news) -> None:
    """The examples, and an issue in three languages (one right to left): no page is wider
    than the screen at 375 or 1280 px, and every image shows, from the site itself."""
    shutil.copytree(REPO / "issues", news.root / "issues", dirs_exist_ok=True)
    site = built(news, "--all")
    found = sorted(site.rglob("index.html"))
    assert len(found) == 11  # 8 issue pages (5 issues, 2 with editions), 3 indexes
    measured = []
    with chromium() as browser:
        for width in (375, 1280):
            tab = open_page(browser, found[0], width)  # blocks every request off this machine
            for page in found:
                tab.goto(page.as_uri(), wait_until="load")
                measured.append((page.relative_to(site).as_posix(), width, tab.evaluate(FITS)))
            tab.context.close()
    wide = [(page, width, fits) for page, width, fits in measured if not fits["fits"]]
    assert wide == []
    indexes = {"index.html", "tr/index.html", "ar/index.html"}
    issue_pages = [fits for page, _, fits in measured if page not in indexes]
    assert len(issue_pages) == 8 * 2 and all(fits["images"] for fits in issue_pages)


FITS = """() => {
  const width = window.innerWidth;
  const images = [...document.images];
  return {
    fits: document.documentElement.scrollWidth <= width && images.every((img) => {
      const box = img.getBoundingClientRect();
      return img.complete && img.naturalWidth > 0 && box.left >= 0 && box.right <= width;
    }),
    images: images.length,
  };
}"""
