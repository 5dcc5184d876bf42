"""``mailer preview --publish FOLDER``: a review copy for colleagues, with no reader's data in
it, kept from search engines, and readable on a phone."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from browsers import browser_test
from projects import REPO, Project, mailer
from sending import write_subscribers

from mailer.preview.browser import open_page

ISSUE = "issues/2021-01-project-update.yaml"  # English, with its Turkish edition
BASE = "https://news.example.org/"


@pytest.fixture
def news(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    shutil.copytree(REPO / "issues", project.root / "issues", dirs_exist_ok=True)
    write_subscribers(project.root / "subscribers.example.csv", 6)
    project.settings.write_text(
        project.settings.read_text("utf-8") + f'\n[archive]\nbase_url = "{BASE}"\n', "utf-8"
    )
    monkeypatch.chdir(project.root)
    return project


def publish(folder: str) -> tuple[Path, str]:
    """Publish the example issue into ``folder``; the copy's folder and its printed address."""
    code, out = mailer("preview", ISSUE, "--publish", folder)
    assert code == 0, out
    written = re.search(r"Wrote the review copy in (\S+)", out)
    url = re.search(r"colleagues open it at (\S+)", out)
    assert written and url, out
    return Path(written.group(1)), url.group(1)


def test_the_review_copy_holds_no_reader_and_keeps_robots_away(news: Project) -> None:
    copy, url = publish("site/review")
    token = copy.name
    assert len(token) >= 24 and copy.parent == news.root / "site" / "review"
    assert url == f"{BASE}review/{token}/"  # beside the archive, at [archive] base_url
    again, _ = publish("site/review")
    assert again.name != token  # a new name every time, nothing to count up from

    pages = sorted(copy.rglob("*.html"))
    assert {page.relative_to(copy).as_posix() for page in pages} == {
        "index.html", "en/email.html", "en/email-dark.html", "en/text.html",
        "tr/email.html", "tr/email-dark.html", "tr/text.html",
    }
    for page in pages:
        head = page.read_text("utf-8").split("</head>")[0]
        assert '<meta name="robots" content="noindex">' in head, page
    assert (copy.parent / "robots.txt").read_text() == "User-agent: *\nDisallow: /\n"

    index = (copy / "index.html").read_text("utf-8")
    for subject in ("Project update: October 2020 – January 2021", "Proje Güncellemesi"):
        assert subject in index
    assert "Counter-smuggling training for customs agencies" in index  # the preheader
    assert "IOM conducted an online joint training" in index  # the text part

    with open(news.root / "subscribers.example.csv", encoding="utf-8", newline="") as listed:
        readers = list(csv.DictReader(listed))
    needles = {value.encode() for reader in readers for value in reader.values() if len(value) > 3}
    assert len(needles) == 6 * 3  # address, name and first name of each
    for path in (path for path in copy.rglob("*") if path.is_file()):
        data = path.read_bytes()
        assert not [needle for needle in needles if needle in data], path


def test_the_archive_site_itself_is_refused(news: Project) -> None:
    code, out = mailer("preview", ISSUE, "--publish", "site")
    assert code == 2 and "that is the archive's site ([archive] out)" in out
    assert not (news.root / "site").exists()


@browser_test
def test_every_edition_fits_a_phone_light_and_dark(news: Project, browser) -> None:
    copy, _ = publish("review")
    pages = ["index.html", *(f"{tag}/{name}" for tag in ("en", "tr")
                             for name in ("email.html", "email-dark.html", "text.html"))]
    tab = open_page(browser, copy / "index.html", 375)
    measured = {}
    for page in pages:
        tab.goto((copy / page).as_uri(), wait_until="load")
        measured[page] = tab.evaluate(
            "() => [document.documentElement.scrollWidth <= innerWidth,"
            " getComputedStyle(document.body).backgroundColor]"
        )
    tab.context.close()
    assert [page for page, (fits, _) in measured.items() if not fits] == []
    # The dark copies show the theme's dark palette (dark_background_color #0E121A) whatever
    # the phone is set to; the light ones do not.
    for tag in ("en", "tr"):
        assert measured[f"{tag}/email-dark.html"][1] == "rgb(14, 18, 26)"
        assert measured[f"{tag}/email.html"][1] != "rgb(14, 18, 26)"
