"""The editions check: an edition measured against its issue's default file, by position, with
warnings only, each at its line in the edition's file."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import Project, position

from mailer.checks.editions import compare
from mailer.compose.editions import load_editions

ROOT = Path(__file__).resolve().parents[1]

DEFAULT = """
id: compare-test
language: en
subject: Clean water for 8,600 people
preheader: How a small grant changed a district.
period: January 2026
footer:
  postal_address: Birlik Mahallesi 450. Sokak No:11, 06610 Çankaya, Ankara
  reason: You subscribed to news from IOM Turkey.
lead:
  title: Clean water for 8,600 people
  image:
    src: assets/photo.png
    alt: Volunteers unloading jerrycans of water
    caption: The first delivery in Kilis.
    credit: IOM / Lanna Walsh
  body: >-
    The district's new pumps run on solar power, and the clinic has water every day.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/water
sections:
  - title: Highlights
    intro: What happened this month.
    items:
      - title: A library opens in Kilis
        body: Books and the internet, free of charge.
        links:
          - label: Read more
            url: https://turkiye.iom.int/news/library
          - label: Watch the film
            url: https://www.youtube.com/watch?v=library
      - title: Solar dryers
        quote:
          text: It was hard at the beginning.
          attribution: Delbaz, from Al-Hasakeh
  - title: In the news
    items:
      - title: Migration film festival
        body: Films about migration in ten cities.
"""

# A faithful Turkish edition: every text translated, nothing left out or added.
TURKISH = """
subject: 8.600 kişiye temiz su
preheader: Küçük bir hibe bir ilçeyi nasıl değiştirdi.
period: Ocak 2026
footer:
  postal_address: Birlik Mahallesi 450. Sokak No:11, 06610 Çankaya, Ankara
  reason: IOM Türkiye'nin haberlerine abone oldunuz.
lead:
  title: 8.600 kişiye temiz su
  image:
    alt: Su bidonlarını indiren gönüllüler
    caption: Kilis'teki ilk teslimat.
    credit: IOM / Lanna Walsh
  body: >-
    İlçenin yeni pompaları güneş enerjisiyle çalışıyor ve sağlık ocağında her gün su var.
  links:
    - label: Devamını okuyun
sections:
  - title: Öne Çıkanlar
    intro: Bu ay neler oldu.
    items:
      - title: Kilis'te bir kütüphane açıldı
        body: Kitaplar ve internet, ücretsiz.
        links:
          - label: Devamını okuyun
          - label: Filmi izleyin
      - title: Güneş enerjili kurutucular
        quote:
          text: Başlangıçta zordu.
          attribution: Haseke'den Delbaz
  - title: Basında
    items:
      - title: Göç film festivali
        body: On şehirde göç üzerine filmler.
"""


LEAD_LINK = "  links:\n    - label: Devamını okuyun\n"


def compared(project: Project, edition: str, default: str = DEFAULT) -> tuple[list, Path]:
    """The findings for ``edition`` as the tr edition of ``default``, and the edition's file."""
    path = project.write_issue(edition, "issue.tr.yaml")
    editions = load_editions(project.write_issue(default))
    return compare(editions.get("tr"), editions.default), path


def only(findings: list) -> tuple[str, str]:
    """The one finding's place and message, after checking it is an editions warning."""
    (finding,) = findings
    assert (finding.severity, finding.check) == ("warning", "editions")
    assert finding.fix
    return str(finding.location), finding.message


def test_a_faithful_edition_has_no_findings(project):
    assert compared(project, TURKISH)[0] == []


def test_the_turkish_example_matches_its_default():
    editions = load_editions(ROOT / "issues" / "2021-01-project-update.yaml")
    assert editions.tags == ("en", "tr")
    assert compare(editions.get("tr"), editions.default) == []


# --- items and links missing or extra -----------------------------------------------------------


def test_a_missing_item(project):
    edition = TURKISH.replace(
        "      - title: Güneş enerjili kurutucular\n        quote:\n"
        "          text: Başlangıçta zordu.\n          attribution: Haseke'den Delbaz\n", "",
    )
    findings, path = compared(project, edition)
    first_items = path.read_text(encoding="utf-8").splitlines().index("    items:") + 1
    assert only(findings) == (
        f"{path}:{first_items}:5", "item 2 of section 1 of issue.yaml is not in this edition",
    )


def test_an_extra_item(project):
    edition = TURKISH + "      - title: Yeni bir haber\n"
    findings, path = compared(project, edition)
    assert only(findings) == (
        position(path, "title: Yeni bir haber"),
        "item 2 of section 2 is not in issue.yaml: only this edition's readers get it",
    )


def test_a_missing_section_is_one_finding_not_one_per_item(project):
    edition = TURKISH.split("  - title: Basında")[0]
    assert only(compared(project, edition)[0])[1] == (
        "section 2 of issue.yaml is not in this edition"
    )


def test_an_extra_section(project):
    edition = TURKISH + "  - title: Videolar\n    items:\n      - title: Bir film\n"
    findings, path = compared(project, edition)
    assert only(findings) == (
        position(path, "title: Videolar"),
        "section 3 is not in issue.yaml: only this edition's readers get it",
    )


def test_a_missing_lead(project):
    edition = TURKISH.split("lead:")[0] + "sections:" + TURKISH.split("sections:")[1]
    findings, path = compared(project, edition)
    assert only(findings) == (f"{path}:1:1", "the lead of issue.yaml is not in this edition")


def test_a_missing_and_an_extra_link(project):
    fewer = TURKISH.replace("          - label: Filmi izleyin\n", "")
    findings, path = compared(project, fewer)
    assert only(findings)[1] == "link 2 of item 1 of section 1 of issue.yaml is not in this edition"

    more = TURKISH.replace(
        LEAD_LINK, LEAD_LINK + "    - label: Paylaşın\n      url: https://turkiye.iom.int/share\n",
    )
    findings, path = compared(project, more)
    assert only(findings) == (
        position(path, "label: Paylaşın"),
        "link 2 of the lead is not in issue.yaml: only this edition's readers get it",
    )


# --- link URLs ----------------------------------------------------------------------------------


def test_a_link_to_another_page(project):
    edition = TURKISH.replace(
        "          - label: Filmi izleyin\n",
        "          - label: Filmi izleyin\n            url: https://www.youtube.com/watch?v=kutuphane\n",
    )
    findings, path = compared(project, edition)
    assert only(findings) == (
        position(path, "url: https://www.youtube.com/watch?v=kutuphane"),
        "sections[0].items[0].links[1].url is https://www.youtube.com/watch?v=kutuphane, where "
        "issue.yaml links to https://www.youtube.com/watch?v=library",
    )


def test_a_link_written_with_the_defaults_url_is_fine(project):
    edition = TURKISH.replace(
        LEAD_LINK, LEAD_LINK + "      url: https://turkiye.iom.int/news/water\n",
    )
    assert compared(project, edition)[0] == []


# --- text left untranslated ---------------------------------------------------------------------


@pytest.mark.parametrize(("translated", "original", "field"), [
    ("subject: 8.600 kişiye temiz su", "subject: Clean water for 8,600 people", "subject"),
    ("preheader: Küçük bir hibe bir ilçeyi nasıl değiştirdi.",
     "preheader: How a small grant changed a district.", "preheader"),
    ("period: Ocak 2026", "period: January 2026", "period"),
    ("reason: IOM Türkiye'nin haberlerine abone oldunuz.",
     "reason: You subscribed to news from IOM Turkey.", "footer.reason"),
    ("  title: 8.600 kişiye temiz su", "  title: Clean water for 8,600 people", "lead.title"),
    ("alt: Su bidonlarını indiren gönüllüler", "alt: Volunteers unloading jerrycans of water",
     "lead.image.alt"),
    ("caption: Kilis'teki ilk teslimat.", "caption: The first delivery in Kilis.",
     "lead.image.caption"),
    (LEAD_LINK, "  links:\n    - label: Read more\n", "lead.links[0].label"),
    ("title: Öne Çıkanlar", "title: Highlights", "sections[0].title"),
    ("intro: Bu ay neler oldu.", "intro: What happened this month.", "sections[0].intro"),
    ("body: Kitaplar ve internet, ücretsiz.", "body: Books and the internet, free of charge.",
     "sections[0].items[0].body"),
    ("text: Başlangıçta zordu.", "text: It was hard at the beginning.",
     "sections[0].items[1].quote.text"),
    ("attribution: Haseke'den Delbaz", "attribution: Delbaz, from Al-Hasakeh",
     "sections[0].items[1].quote.attribution"),
])
def test_a_text_left_as_the_default_has_it(project, translated, original, field):
    assert TURKISH.count(translated) == 1
    findings, path = compared(project, TURKISH.replace(translated, original))
    where, message = only(findings)
    needle = original.splitlines()[-1].strip().removeprefix("- ")  # the field's own line
    assert where == position(path, needle)
    assert message.startswith(f"{field} '{needle.split(': ', 1)[1]}'")
    assert message.endswith("is word for word the default's, in issue.yaml")


def test_a_reflowed_paragraph_is_still_the_same_text(project):
    edition = TURKISH.replace(
        "    İlçenin yeni pompaları güneş enerjisiyle çalışıyor ve sağlık ocağında her gün su var.",
        "    The district's new pumps run on solar power,\n    and the clinic has water every day.",
    )
    findings, path = compared(project, edition)
    where, message = only(findings)
    assert where == position(path, "body: >-")
    assert message.startswith(
        "lead.body 'The district's new pumps run on solar power, and the clinic…' is word for word"
    )


def test_words_taken_whole_with_links_the_item_leaves_out(project):
    edition = TURKISH.replace(
        "        links:\n          - label: Devamını okuyun\n"
        "          - label: Filmi izleyin\n", "",
    )
    findings, path = compared(project, edition)
    assert [(str(f.location), f.message) for f in findings] == [
        (position(path, "title: Kilis'te bir kütüphane açıldı"),
         f"sections[0].items[0].links[{n}].label '{label}' is word for word the default's, in "
         "issue.yaml, taken whole with the image or links this edition's item leaves out")
        for n, label in enumerate(["Read more", "Watch the film"])
    ]
    assert "only an image's src, link and credit and each link's url" in findings[0].fix


def test_words_taken_whole_with_an_image_the_item_leaves_out(project):
    edition = TURKISH.replace(
        "  image:\n    alt: Su bidonlarını indiren gönüllüler\n"
        "    caption: Kilis'teki ilk teslimat.\n    credit: IOM / Lanna Walsh\n", "",
    )
    findings, path = compared(project, edition)
    assert [f.message.split(" '")[0] for f in findings] == [
        "lead.image.alt", "lead.image.caption",  # the credit is the same in every language
    ]
    assert {str(f.location) for f in findings} == {position(path, "lead:")}


SAME_EVERYWHERE = """
id: compare-test
subject: "{subject}"
lead:
  title: "{title}"
  body: "{body}"
  links:
    - label: "{label}"
      url: https://www.youtube.com/user/IOMMigration
"""


@pytest.mark.parametrize(("title", "body", "label"), [
    ("IOM", "COVID-19", "YouTube"),  # one word written as a name or a code
    ("UNHCR", "2021", "LinkedIn"),
    ("İŞKUR", "8.600 – 2.400", "{{ subscriber.first_name }}"),  # no letters but a merge field
])
def test_what_is_the_same_in_every_language_is_not_reported(project, title, body, label):
    text = SAME_EVERYWHERE.format(subject="Clean water", title=title, body=body, label=label)
    edition = SAME_EVERYWHERE.format(subject="Temiz su", title=title, body=body, label=label)
    assert compared(project, edition.replace("id: compare-test\n", ""), text)[0] == []


def test_a_single_plain_word_is_reported(project):
    text = SAME_EVERYWHERE.format(subject="Clean water", title="Highlights", body="Water.",
                                  label="Watch")
    edition = SAME_EVERYWHERE.format(subject="Temiz su", title="Highlights", body="Su.",
                                     label="Watch")
    findings, _ = compared(project, edition, text)
    assert [f.message.split(" '")[0] for f in findings] == ["lead.title", "lead.links[0].label"]
