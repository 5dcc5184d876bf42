"""The example issues reproduce the seed newsletters, through the real load-and-render path.

Each example in ``issues/`` is loaded with the project's ``mailer.toml`` and rendered as it would
be sent (images embedded as ``cid:`` parts). The expectations below are literal text copied
from the seed newsletters (``/work/shared/seeds/004_...`` and ``000_...``), not read from the
YAML, so the tests fail if an example drifts from its seed: a reader comparing the email with
the original would find every headline, paragraph, caption, credit, quote and press item in
both the HTML and the plain-text part, every link clickable, and a well-formed email.

The plain-text parts are also pinned by golden files in ``tests/golden/``; after an intended
change, regenerate them with ``PYTHONPATH=src python3 tests/regenerate_golden.py`` and review
the diff.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import lxml.html
import pytest
from projects import SOCIAL_URLS

from mailer.compose.images import EmbeddedImages
from mailer.compose.issue import LoadedIssue, load_issue
from mailer.compose.render import RenderedIssue, render_issue
from mailer.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
ISSUES = ROOT / "issues"
GOLDEN = Path(__file__).resolve().parent / "golden"

IOM_TURKEY = "2018-03-iom-turkey"
PROJECT_UPDATE = "2021-01-project-update"
EXAMPLES = [IOM_TURKEY, PROJECT_UPDATE]

GMAIL_CLIP_BYTES = 102_000  # Gmail cuts messages off ("[Message clipped]") at about 102 KB
TEXT_WIDTH = 72


# ---------------------------------------------------------------------------------------------
# Seed 004: IOM Turkey newsletter, December 2017 – March 2018 (headlines the PDF broke over
# several lines joined into one; the duplicated "Rescued at Sea" headline is a PDF artefact).
# ---------------------------------------------------------------------------------------------

SEED_004 = {
    "subject": "IOM Turkey Newsletter: December 2017 – March 2018",
    "title": "IOM Turkey Newsletter",
    "period": "December 2017 – March 2018",
    "sections": [
        "IOM Turkey Highlights",
        "Our Stories",
        "Other Videos",
        "IOM Turkey in the News",
    ],
    # Every headline in the seed's reading order (the lead first).
    "headlines": [
        "Why Gaziantep Still Matters Seven Years After Start of Syrian Conflict",
        "IOM Turkey hosts senior directors from around the world to discuss strategy and "
        "policy for displacement and mobility tracking",
        "Children’s Art Exhibition in Ankara Gives a Successful Example of the Social "
        "Cohesion between Local Turkish and Migrant Communities",
        "Bilateral Consultation between IOM and the Government of Turkey",
        "Working with Refugees and Migrants Rescued at Sea",
        "International Migrants Day Events Deepen Ties between Migrants and Local Turkish "
        "Communities, Fostering Integration",
        "UN in Turkey International Women’s Day Event: Talk for Equality. Time is Now!",
        "Continued Support for Integrated Border Management",
        "Shelter Rehabilitation Benefiting 8,600 Migrants",
        "Building Bridges through Mobile Outreach",
        "Enhancing Integration at National and Local Levels",
        "Human Rights in Removal Centres",
        "Global Migration Film Festival in Turkey",
    ],
    # Every paragraph of running text, in the seed's reading order.
    "paragraphs": [
        "IOM Deputy Director General Laura Thompson travelled to Gaziantep of 1.9 million "
        "this week to see how it has coped over the years, meet with the Mayor, and visit IOM "
        "project sites. “We appreciate the efforts of the Government and people of Turkey to "
        "provide essential services for migrants and refugees,” said Ambassador Thompson. "
        "“Gaziantep is a successful example of a municipality improving migrants’ wellbeing "
        "and fostering social cohesion.”",
        "“At a time when Turkey is the country hosting the largest number of Syrian refugees "
        "and migrants in the world, and when many other countries are turning their backs on "
        "the displaced - we are here today to celebrate the excellent initiative of the "
        "Municipality of Gaziantep to provide opportunities for migrant children and their "
        "families to lead engaging and productive lives,” said Lado Gvilava, IOM Turkey Chief "
        "of Mission at the opening ceremony of Ensar Community Centre’s Children’s Art "
        "Exhibition in Ankara.",
        "As the country hosting the largest number of Syrian refugees and migrants in the "
        "world, Turkey has been at the forefront in sharing the burden of a longstanding "
        "refugee emergency. International agencies, such as IOM, have valued the supporting "
        "role Turkey’s government has played, and note the many demands on domestic "
        "resources.",
        "IOM Turkey has been playing a crucial role in supporting the government including "
        "Municipalities and the Turkish Red Crescent (TRC), in establishing and operating "
        "migrant service and community centres in five locations across the country: "
        "Gaziantep, Kecioren, Istanbul, Sanliurfa, and Hatay.",
        "In February, IOM and Gaziantep Municipality opened an art exhibit by Ensar Community "
        "Centre where 200 Syrian and Turkish youth created works of art together to give a "
        "successful example of the social cohesion between local Turkish and migrant "
        "communities.",
        "IOM supports the Turkish Coast Guard to curb irregular migration and rescue migrants "
        "at sea.",
        # "Our Stories": the seed's one paragraph about Delbaz, split by the PDF, is shown as
        # the sentence about him (these two fragments) plus his words as a quote (below).
        "Delbaz from Al-Hasakeh dedicated his time to supporting Syrian integration through art",
        "an approach that worked incredibly well.",
        "IOM’s refurbishment of a school in Sanliurfa has increased access to education "
        "facilities for Syrian and Turkish children living in the area.",
        "IOM’s Syria appeal seeks to assist one million internally displaced Syrians with "
        "urgent humanitarian aid.",
        "Ensar Community Centre in Gaziantep recently celebrated Syrian Mother’s Day with a "
        "range of events for Syrian and Turkish families to promote cohesion in the "
        "community.",
    ],
    "captions": [
        (
            "Ambassador Laura Thompson, Deputy Director General of IOM (right), with Fatma "
            "Sahin, Mayor of Gaziantep.",
            "IOM / Lanna Walsh",
        ),
        (
            "Opening ceremony of Ensar Community Centre’s Children’s Art Exhibition attended "
            "by Japanese Ambassador Akio Miyajima, Ankara, Turkey. 5 February 2018.",
            "IOM / Cem Mehmethanoglu",
        ),
        (
            "GMFF Film Screening at Gaziantep Metropolitan Municipality, Turkey. 20 December 2017.",
            "IOM / Lanna Walsh",
        ),
    ],
    "quotes": [
        (
            "It was hard at the beginning, as many students didn’t want to sit next to their "
            "Turkish and Syrian counterparts and didn’t want to talk to each other. I "
            "encouraged many of them to work together on one painting to break down those "
            "walls",
            "Delbaz",
        ),
    ],
    "news": [
        "Anadolu Agency cites IOM data reporting that the flow of irregular migrants to Europe "
        "by sea has seen a sharp decline since 2015, following the EU-Turkey refugee deal.",
        "Milliyet News mentions the Turkish Coast Guard’s close cooperation with IOM to save "
        "more live in the Mediterranean Sea.",
        "Anadolu Agency quotes IOM Turkey Chief of Mission Lado Gvilava at the International "
        "Migrants Day event at Keçiören Migrant Services Centre run by IOM in Ankara.",
    ],
    # The seed's link labels: 13 "Read more" and 2 "Share on" (followed by the Facebook icon)
    # once the duplicate headline is dropped; 7 "Watch here" plus one for the Coast Guard
    # video, whose thumbnail was its link.
    "link_labels": {"Read more": 13, "Watch here": 8, "Share on Facebook": 2},
    # The one link target the seed kept besides the social links.
    "urls": ["https://www.facebook.com/IOMTurkey/videos/2052816381647968/"],
    # What each photo shows, which the (placeholder) image's alt text must say.
    "alt_mentions": ["Laura Thompson", "Fatma Sahin", "Akio Miyajima", "Film Festival"],
    "once": ["Working with Refugees and Migrants Rescued at Sea"],
}

# ---------------------------------------------------------------------------------------------
# Seed 000: "Project update", seven items, October 2020 – January 2021.
# ---------------------------------------------------------------------------------------------

SEED_000 = {
    "subject": "Project update: October 2020 – January 2021",
    "title": "Project update",
    "period": "October 2020 – January 2021",
    "sections": ["Highlights"],
    "headlines": [
        "Training on Counter Smuggling was conducted to Strengthen the Capacities of Customs "
        "Agencies",
        "Adana Migrant Coordination and Harmonization Center Continues to Work Through Online "
        "Channels",
        "Supporting DGMM Efforts in Enhancing the Capacity of Removal Centres",
        "Operational Aspects of Passenger Controls and Risk Training",
        "Soup Kitchen Project aims to strengthen social cohesion among host & refugee communities",
        "Library Opening in Kilis  ",
        "Solar Dryer Project in Viranşehir",
    ],
    "paragraphs": [
        "IOM conducted an online joint training on Counter-Smuggling under the framework of "
        "the European Union and Turkey funded ‘’Regional Cooperation on Border Management "
        "with Greece and Bulgaria Phase 2” Project with the participation of 20 officials "
        "working in the field of border management in Turkey, Bulgaria, and other "
        "stakeholders on the 20-22 January 2021 via Zoom application.",
        "Funded by the Swiss State Secretariat for Migration, the Adana Migrant Coordination, "
        "and Harmonization Center continues to support migrants and refugees through online "
        "channels. Between 22 and 24 December, IOM Turkey teams organized a variety of "
        "workshops, such as access to health care facilities during the COVID19 pandemic, "
        "distance education and EBA, and access to the labour market in Turkey. ",
        "IOM in cooperation with DGMM and with support of the British Embassy organized "
        "online training for interpreters who started working at the removal centres within "
        'the scope of the "Supporting Directorate General for Migration Management (DGMM) '
        "Efforts in Enhancing the Capacity of Removal Centres (RC) within the Framework of "
        'International Human Rights Standards Phase-II".',
        "IOM conducted an online meeting with Customs Enforcement Officers operating at "
        "Ankara Esenboga Airport, Istanbul Airport, and Antalya Airport on the 26th, 30th "
        "October, and 2nd November 2020 about passenger controls at the pilot airports. The "
        "meeting was aiming to discuss the content of the training curriculum and materials. "
        "The online meetings are aiming to improve passenger customs control procedures for "
        "domestic and international arrivals and departures procedures as well and on risk "
        "analysis and behavioral analysis in passenger controls.",
        "IOM Turkey in partnership with World Food Programme, GIZ and seven local "
        "municipalities is working together to strengthen the capacity of soup kitchens. "
        "This project has been implemented with support of the German Government, the "
        "Government of Ireland, and the US Bureau of Population, Refugees, and Migration "
        "(BPRM). The project operates in  Adana, Gaziantep, Istanbul, Izmir, Ankara, Kilis "
        "and Sanliurfa provinces. ",
        "IOM Turkey in partnership with the Kilis municipality opened a new public library in "
        "the city centre where youth from the host and refugee communities can access books "
        "and the internet free of charge. An old building in the city centre was chosen as "
        "the location for the library due to its proximity to many schools and accessibility "
        "via public transportation. IOM rehabilitated the old building by painting the walls, "
        "fixing the plumbing, equipping the library with desks, shelves, books, and "
        "computers.",
        "IOM Turkey in partnership with Viranşehir Governorate implemented a solar dryer "
        "project in Şanlıurfa/Viranşehir. Seasonal agricultural work is one of the major "
        "sources of income for vulnerable people living in Viransehir. The project helps "
        "seasonal workers from the vulnerable host and refugee communities to dehydrate their "
        "harvested vegetables which they can sell all year round. The seasonal workers bring "
        "their crops to the solar-powered dryers which help them dehydrate their vegetables "
        "faster.",
    ],
    "captions": [],
    "quotes": [],
    "news": [],
    "link_labels": {"Read more": 7},
    "urls": [],
    "alt_mentions": [],
    "once": [],
}

SEEDS = {IOM_TURKEY: SEED_004, PROJECT_UPDATE: SEED_000}


# ---------------------------------------------------------------------------------------------
# Rendering and reading the result
# ---------------------------------------------------------------------------------------------


@cache
def _render(name: str) -> tuple[LoadedIssue, RenderedIssue, EmbeddedImages]:
    settings = load_settings(ROOT / "mailer.toml")
    loaded = load_issue(ISSUES / f"{name}.yaml", settings)
    images = EmbeddedImages("iom.int")
    return loaded, render_issue(loaded, images), images


def normalise(text: str) -> str:
    """Runs of white space (including no-break spaces and line breaks) become one space."""
    return " ".join(text.split())


@cache
def _document(name: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(_render(name)[1].html)


@cache
def _seen(name: str) -> lxml.html.HtmlElement:
    """The document without the words only screen readers get (a link's story, m-sr)."""
    document = lxml.html.document_fromstring(_render(name)[1].html)
    for hidden in document.find_class("m-sr"):
        hidden.drop_tree()
    return document


def html_text(name: str, without: str = "") -> str:
    """What a reader sees: the text content of the HTML body, white space normalised; but the
    elements of class ``without``, if given.

    Block elements are separated by a space so that adjacent headings and paragraphs do not
    run together.
    """
    body = _seen(name).body
    if without:
        body = lxml.html.fromstring(lxml.html.tostring(body))
        for element in body.find_class(without):
            element.drop_tree()
    parts = [normalise(chunk) for chunk in body.itertext()]
    return " ".join(part for part in parts if part)


def link_label(link: lxml.html.HtmlElement) -> str:
    """The label a reader sees on a link: a headline-only story's link is its headline, with
    the label after it (m-more)."""
    more = link.find_class("m-more")
    return normalise((more[0] if more else link).text_content())


def plain_text(name: str) -> str:
    return normalise(_render(name)[1].text)


def hrefs(name: str) -> list[str]:
    return [a.get("href") for a in _document(name).iter("a") if a.get("href") is not None]


def yaml_link_urls(loaded: LoadedIssue) -> list[str]:
    """Every link target the example's YAML sets (links and linked images)."""
    urls = []
    for item in loaded.issue.all_items():
        urls.extend(link.url for link in item.links)
        if item.image and item.image.link:
            urls.append(item.image.link)
    return urls


def _in_order(haystack: str, needles: list[str]) -> list[str]:
    """The needles that are missing from ``haystack`` or out of the given order."""
    wrong, position = [], 0
    for needle in needles:
        found = haystack.find(needle, position)
        if found < 0:
            wrong.append(needle)
        else:
            position = found + len(needle)
    return wrong


# ---------------------------------------------------------------------------------------------
# The seed's content, in both parts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_subject_title_and_period(name: str) -> None:
    seed = SEEDS[name]
    _, rendered, _ = _render(name)
    assert rendered.subject == seed["subject"]
    assert _document(name).findtext(".//title") == seed["subject"]
    for text in (html_text(name), plain_text(name)):
        assert seed["title"] in text
        assert seed["period"] in text


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_headline_in_seed_order(name: str) -> None:
    headlines = [normalise(h) for h in SEEDS[name]["headlines"]]
    assert _in_order(html_text(name), headlines) == [], "HTML part"
    assert _in_order(plain_text(name), headlines) == [], "text part"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_section_heading(name: str) -> None:
    sections = [normalise(s) for s in SEEDS[name]["sections"]]
    assert _in_order(html_text(name), sections) == [], "HTML part"
    h2s = [normalise(h.text_content()) for h in _document(name).iter("h2")]
    assert set(sections) <= set(h2s)
    # The text part shows section headings in capitals.
    assert _in_order(plain_text(name).casefold(), [s.casefold() for s in sections]) == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_paragraph_verbatim_in_seed_order(name: str) -> None:
    paragraphs = [normalise(p) for p in SEEDS[name]["paragraphs"]]
    assert _in_order(html_text(name), paragraphs) == [], "HTML part"
    assert _in_order(plain_text(name), paragraphs) == [], "text part"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_caption_and_credit(name: str) -> None:
    for caption, credit in SEEDS[name]["captions"]:
        for where, text in (("HTML", html_text(name)), ("text", plain_text(name))):
            assert normalise(caption) in text, f"{where} part lacks caption {caption!r}"
            assert credit in text, f"{where} part lacks credit {credit!r}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_quote(name: str) -> None:
    for quote, speaker in SEEDS[name]["quotes"]:
        quote = normalise(quote)
        assert quote in html_text(name)
        assert quote in plain_text(name)
        blockquotes = [normalise(b.text_content()) for b in _document(name).iter("blockquote")]
        assert any(quote in b and speaker in b for b in blockquotes), blockquotes
        assert f"“{quote}”" in plain_text(name)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_news_item(name: str) -> None:
    news = [normalise(n) for n in SEEDS[name]["news"]]
    assert _in_order(html_text(name), news) == [], "HTML part"
    assert _in_order(plain_text(name), news) == [], "text part"


def test_non_ascii_kept_exactly() -> None:
    for name, words in (
        (IOM_TURKEY, ["Keçiören", "December 2017 – March 2018", "“We appreciate", "migrants’"]),
        (PROJECT_UPDATE, ["Şanlıurfa/Viranşehir", "‘’Regional", "Phase 2”", "Viransehir"]),
    ):
        for word in words:
            assert word in html_text(name), (name, word)
            assert word in plain_text(name), (name, word)


@pytest.mark.parametrize("name", EXAMPLES)
def test_headlines_the_pdf_repeated_appear_once(name: str) -> None:
    for headline in SEEDS[name]["once"]:
        assert html_text(name, without="m-contents").count(headline) == 1
        assert plain_text(name).count(headline) == 1


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_yaml_link_is_clickable_in_both_parts(name: str) -> None:
    loaded, rendered, _ = _render(name)
    urls = yaml_link_urls(loaded)
    assert urls, "the example should have links"
    links = set(hrefs(name))
    words = set(rendered.text.split())
    for url in urls:
        assert url in links, f"no <a href> for {url}"
        assert url in words, f"text part does not show {url}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_seed_urls_kept(name: str) -> None:
    for url in SEEDS[name]["urls"]:
        assert url in hrefs(name)
        assert url in _render(name)[1].text.split()


@pytest.mark.parametrize("name", EXAMPLES)
def test_link_labels_as_in_seed(name: str) -> None:
    labels = Counter(link_label(a) for a in _seen(name).iter("a"))
    for label, count in SEEDS[name]["link_labels"].items():
        assert labels[label] == count, (label, labels)
    label_lines = r"^(Read more|Watch here|Share on Facebook):\nhttps://"
    text_labels = Counter(re.findall(label_lines, _render(name)[1].text, re.M))
    assert dict(text_labels) == SEEDS[name]["link_labels"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_social_links_exact(name: str) -> None:
    links = hrefs(name)
    words = _render(name)[1].text.split()
    for url in SOCIAL_URLS:
        assert url in links, f"social link {url} missing as an exact href"
        assert url in words, f"social link {url} missing from the text part"


@pytest.mark.parametrize("name", EXAMPLES)
def test_unsubscribe_link_present_as_merge_token(name: str) -> None:
    _, rendered, _ = _render(name)
    assert "MFQXunsubXQMF" in hrefs(name)
    assert "Unsubscribe:\nMFQXunsubXQMF" in rendered.text


# ---------------------------------------------------------------------------------------------
# A well-formed email
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_html_is_finished_email_html(name: str) -> None:
    html = _render(name)[1].html
    assert html.startswith("<!DOCTYPE html>")
    assert "<mj-" not in html and "</mj-" not in html
    assert "{{" not in html and "{%" not in html
    root = _document(name)
    assert root.get("lang") == "en"
    assert root.get("dir") == "ltr"
    assert len(root.findall(".//h1")) == 1


@pytest.mark.parametrize("name", EXAMPLES)
def test_styles_inlined_and_media_queries_kept(name: str) -> None:
    html = _render(name)[1].html
    h2s = _document(name).findall(".//h2")
    assert h2s
    for h2 in h2s:
        assert "font-size" in (h2.get("style") or ""), lxml.html.tostring(h2)
    media_blocks = re.findall(r"@media[^{]*\{.*?\}\s*\}", html, flags=re.S)
    assert any("!important" in block for block in media_blocks), media_blocks


@pytest.mark.parametrize("name", EXAMPLES)
def test_images_have_alt_text_and_are_embedded(name: str) -> None:
    _, _, images = _render(name)
    imgs = _document(name).findall(".//img")
    assert imgs
    for img in imgs:
        assert img.get("alt") is not None, lxml.html.tostring(img)
    embedded = {f"cid:{image.content_id}" for image in images.images}
    assert {img.get("src") for img in imgs} <= embedded
    for image in images.images:
        assert image.path.stat().st_size < 60_000, image.path
    alts = " ".join(img.get("alt") for img in imgs)
    for mention in SEEDS[name]["alt_mentions"]:
        assert mention in alts


@pytest.mark.parametrize("name", EXAMPLES)
def test_html_is_not_clipped_by_gmail(name: str) -> None:
    size = len(_render(name)[1].html.encode("utf-8"))
    assert size < GMAIL_CLIP_BYTES, f"{size} bytes: Gmail would clip this message"


def test_the_long_example_keeps_room_below_gmails_clipping() -> None:
    """Seed 004, the longest example (22 stories), stays at 60 KB or under: room for a much
    longer issue, a longer name in the merge fields, and the unsubscribe URL, before Gmail
    clips at 102 KB."""
    size = len(_render(IOM_TURKEY)[1].html.encode("utf-8"))
    assert size <= 60_000, f"{size} bytes"


# ---------------------------------------------------------------------------------------------
# The plain-text part: golden files and readability
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_text_part_matches_golden(name: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    text = _render(name)[1].text
    how = "regenerate with: PYTHONPATH=src python3 tests/regenerate_golden.py (review the diff)"
    assert golden.is_file(), f"{golden} is missing; {how}"
    assert text == golden.read_text(encoding="utf-8"), f"text part differs from {golden}; {how}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_text_part_has_nothing_over_78_columns_but_a_lone_url(name: str) -> None:
    """RFC 5322's 78 columns; a URL longer than that stands alone on its line, its label on
    the line before, so that text clients can open it."""
    lines = _render(name)[1].text.splitlines()
    too_long = [
        line for line in lines if len(line) > 78 and not re.fullmatch(r"https?://\S+", line)
    ]
    assert too_long == []
    loaded = _render(name)[0]
    for link in (link for item in loaded.issue.all_items() for link in item.links):
        assert f"{link.label}:\n{link.url}\n" in "\n".join(lines), link


@pytest.mark.parametrize("name", EXAMPLES)
def test_text_part_fits_72_columns(name: str) -> None:
    """Only lines carrying a URL may be longer (URLs are never broken)."""
    too_long = [
        line
        for line in _render(name)[1].text.splitlines()
        if len(line) > TEXT_WIDTH and not re.search(r"https?://|mailto:", line)
    ]
    assert too_long == [], too_long
