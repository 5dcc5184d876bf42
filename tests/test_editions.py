"""Editions: what an edition file takes from its issue's default file, which edition each
reader gets, which editions a command acts on, and one located line for every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import Project, position
from typer.testing import CliRunner

from mailer.cli import app
from mailer.compose.editions import Editions, load_editions
from mailer.errors import InputError, UsageError

DEFAULT = """
id: editions-test
language: en
subject: Clean water for 8,600 people
period: January 2026
brand:
  primary_color: "#112233"
sender:
  name: IOM Turkey
  address: newsletter@iom.int
social:
  - network: youtube
    url: https://www.youtube.com/user/IOMMigration
lead:
  title: Clean water for 8,600 people
  image:
    src: assets/photo.png
    alt: Volunteers unloading jerrycans of water from a truck
    caption: The first delivery in Kilis.
    credit: IOM / Lanna Walsh
    link: https://turkiye.iom.int/photos/water
  body: The district's new pumps run on solar power.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/water
    - label: Watch the film
      url: https://www.youtube.com/watch?v=water
sections:
  - title: Highlights
    items:
      - title: A library opens in Kilis
        image:
          src: assets/photo.png
          alt: Children reading at long tables
        links:
          - label: Read more
            url: https://turkiye.iom.int/news/library
      - title: Solar dryers in Viranşehir
        body: Seasonal workers dry their harvest in the sun.
"""

# A Turkish edition that leaves out everything it may: no id, no language, no image sources,
# no link URLs, and no image or links at all in the first item of the section.
TURKISH = """
subject: 8.600 kişiye temiz su
lead:
  title: 8.600 kişiye temiz su
  image:
    alt: Bir kamyondan su bidonlarını indiren gönüllüler
    caption: Kilis'teki ilk teslimat.
  body: İlçenin yeni pompaları güneş enerjisiyle çalışıyor.
  links:
    - label: Devamını okuyun
    - label: Filmi izleyin
sections:
  - title: Öne Çıkanlar
    items:
      - title: Kilis'te bir kütüphane açıldı
      - title: Viranşehir'de güneş enerjili kurutucular
        body: Mevsimlik işçiler hasatlarını güneşte kurutuyor.
"""

MINIMAL = "subject: {subject}\nlead:\n  title: {subject}\n  links:\n    - label: {label}\n"


def write_issue(project: Project, editions: dict[str, str] | None = None) -> Path:
    """The default file ``issue.yaml`` and an ``issue.<tag>.yaml`` for each of ``editions``."""
    for tag, text in (editions or {}).items():
        project.write_issue(text, f"issue.{tag}.yaml")
    return project.write_issue(DEFAULT)


def edition(project: Project, tag: str = "tr", text: str = TURKISH):
    """The edition ``tag`` of an issue that has it, loaded through its own file."""
    write_issue(project, {tag: text})
    return load_editions(project.root / "issues" / f"issue.{tag}.yaml").chosen[0]


# --- what an edition inherits -----------------------------------------------------------------


def test_an_image_takes_its_src_link_and_credit_and_keeps_its_own_words(project):
    image = edition(project).issue.lead.image
    assert (image.src, image.link, image.credit) == (
        "assets/photo.png", "https://turkiye.iom.int/photos/water", "IOM / Lanna Walsh",
    )
    assert (image.alt, image.caption) == (
        "Bir kamyondan su bidonlarını indiren gönüllüler", "Kilis'teki ilk teslimat.",
    )


def test_a_photo_of_its_own_takes_no_credit_or_link_from_the_default_photo(project):
    (project.root / "issues" / "assets" / "own.png").write_bytes(
        (project.root / "issues" / "assets" / "photo.png").read_bytes()
    )
    text = TURKISH.replace("  image:\n", "  image:\n    src: assets/own.png\n", 1)
    image = edition(project, text=text).issue.lead.image
    assert (image.src, image.link, image.credit) == ("assets/own.png", None, None)


def test_an_item_without_an_image_takes_the_whole_image(project):
    item = edition(project).issue.sections[0].items[0]
    assert item.image is not None
    assert (item.image.src, item.image.alt) == (
        "assets/photo.png", "Children reading at long tables",
    )


def test_link_urls_are_taken_by_position_and_labels_kept(project):
    links = edition(project).issue.lead.links
    assert [(link.label, link.url) for link in links] == [
        ("Devamını okuyun", "https://turkiye.iom.int/news/water"),
        ("Filmi izleyin", "https://www.youtube.com/watch?v=water"),
    ]


def test_a_link_with_its_own_url_keeps_it(project):
    text = TURKISH.replace(
        "    - label: Filmi izleyin\n",
        "    - label: Filmi izleyin\n      url: https://www.youtube.com/watch?v=su\n",
    )
    links = edition(project, text=text).issue.lead.links
    assert [link.url for link in links] == [
        "https://turkiye.iom.int/news/water", "https://www.youtube.com/watch?v=su",
    ]


def test_an_item_without_links_takes_them_all(project):
    item = edition(project).issue.sections[0].items[0]
    assert [(link.label, link.url) for link in item.links] == [
        ("Read more", "https://turkiye.iom.int/news/library"),
    ]


def test_the_id_brand_and_social_links_are_the_issues(project):
    loaded = edition(project)
    assert loaded.issue.id == "editions-test"
    assert loaded.brand.primary_color == "#112233"
    assert [(link.network, link.url) for link in loaded.social] == [
        ("youtube", "https://www.youtube.com/user/IOMMigration"),
    ]
    assert loaded.path.name == "issue.tr.yaml"


def test_brand_and_sender_are_taken_key_by_key(project):
    """A translator who words the logo's alt text or the sender's name in Turkish keeps the
    issue's colours and address (they were lost, or refused as missing)."""
    text = (
        "brand:\n  logo_alt: IOM BM Göç Ajansı\n"
        "sender:\n  name: IOM Türkiye\n" + TURKISH
    )
    loaded = edition(project, text=text)
    assert (loaded.brand.primary_color, loaded.brand.logo_alt) == ("#112233", "IOM BM Göç Ajansı")
    assert (loaded.sender.name, loaded.sender.address) == ("IOM Türkiye", "newsletter@iom.int")


def test_the_language_comes_from_the_file_name_when_the_edition_gives_none(project):
    assert edition(project, "pt-BR").issue.language == "pt-BR"


def test_a_language_matches_its_file_name_in_any_case(project):
    assert edition(project, "tr", "language: TR\n" + TURKISH).issue.language == "TR"


def test_the_default_file_is_not_changed_by_its_editions(project):
    loaded = load_editions(write_issue(project, {"tr": TURKISH}))
    assert loaded.default.issue.lead.links[0].label == "Read more"
    assert loaded.get("tr").issue.lead.links[0].label == "Devamını okuyun"


# --- routing ------------------------------------------------------------------------------------


@pytest.fixture
def editions(project: Project) -> Editions:
    """An English issue with editions in pt and pt-BR (and none in tr)."""
    text = MINIMAL.format(subject="Água limpa", label="Leia mais")
    return load_editions(write_issue(project, {"pt": text, "pt-BR": text}))


@pytest.mark.parametrize(("language", "tag"), [
    ("pt-BR", "pt-BR"),  # the exact tag, with its region
    ("PT-br", "pt-BR"),  # tags compare case-insensitively
    ("pt_BR", "pt-BR"),  # a common CSV spelling: _ is -
    (" pt-br ", "pt-BR"),
    ("pt-PT", "pt"),  # no pt-PT edition: the primary language
    ("pt", "pt"),
    ("PT", "pt"),
    ("en-US", "en"),  # the default's primary language
    ("tr", "en"),  # no tr edition: the default
    ("xx-Unknown", "en"),
    ("klingon", "en"),
    ("", "en"),  # no language at all: the default
    ("   ", "en"),
])
def test_each_reader_gets_the_edition_of_their_language(editions, language, tag):
    assert editions.route(language) == tag


def test_the_editions_and_their_tags(editions):
    assert editions.tags == ("en", "pt", "pt-BR")
    assert editions.default_tag == "en" and editions.several
    assert [loaded.issue.language for loaded in editions.chosen] == ["en", "pt", "pt-BR"]
    assert editions.issue_id == "editions-test"
    assert editions.get("PT-br").path.name == "issue.pt-BR.yaml"


def test_an_issue_without_editions_is_one_edition(project):
    editions = load_editions(write_issue(project))
    assert editions.tags == ("en",) and not editions.several
    assert editions.route("tr") == "en"


# --- which editions a command acts on -----------------------------------------------------------


def test_edition_narrows_the_chosen_but_routing_sees_them_all(project):
    path = write_issue(project, {"tr": TURKISH, "de": MINIMAL.format(subject="Sauberes Wasser",
                                                                     label="Weiterlesen")})
    narrowed = load_editions(path, edition="TR")
    assert [loaded.issue.language for loaded in narrowed.chosen] == ["tr"]
    assert narrowed.tags == ("en", "de", "tr")
    assert narrowed.route("de-AT") == "de"
    assert [loaded.issue.language for loaded in load_editions(path, edition="en").chosen] == ["en"]


def test_an_edition_file_is_that_edition_alone(project):
    write_issue(project, {"tr": TURKISH, "pt": MINIMAL.format(subject="Água", label="Leia")})
    own = project.root / "issues" / "issue.tr.yaml"
    loaded = load_editions(own)
    assert [chosen.path for chosen in loaded.chosen] == [own]
    assert loaded.default.path.name == "issue.yaml"
    assert loaded.tags == ("en", "pt", "tr")
    assert [chosen.path for chosen in load_editions(own, edition="tr").chosen] == [own]


def test_an_edition_file_and_another_edition_contradict(project):
    write_issue(project, {"tr": TURKISH})
    with pytest.raises(UsageError, match=r"is the 'tr' edition; --edition en contradicts it"):
        load_editions(project.root / "issues" / "issue.tr.yaml", edition="en")


def test_an_unknown_edition_is_a_usage_error_naming_the_ones_there_are(project):
    path = write_issue(project, {"tr": TURKISH})
    with pytest.raises(UsageError) as caught:
        load_editions(path, edition="ar")
    assert str(caught.value) == f"{path} has no 'ar' edition (it has: en, tr)"


def test_a_file_that_only_looks_like_an_edition_is_an_issue_of_its_own(project):
    path = project.write_issue(DEFAULT, "2026.tr.yaml")  # no 2026.yaml beside it
    loaded = load_editions(path)
    assert loaded.tags == ("en",) and loaded.default.path == path


def test_an_issue_whose_name_has_glob_characters_has_its_editions(project):
    path = project.write_issue(DEFAULT, "2026[1].yaml")
    project.write_issue(TURKISH, "2026[1].tr.yaml")
    assert load_editions(path).tags == ("en", "tr")


# --- mistakes: one located line each ------------------------------------------------------------


def load_error(project: Project, text: str, tag: str = "tr") -> tuple[str, Path]:
    """The one-line error loading the issue with ``text`` as its ``tag`` edition, and the
    edition file."""
    path = write_issue(project, {tag: text})
    with pytest.raises(InputError) as caught:
        load_editions(path)
    message = str(caught.value)
    assert "\n" not in message
    return message, project.root / "issues" / f"issue.{tag}.yaml"


def test_an_unknown_field_in_an_edition(project):
    message, path = load_error(project, TURKISH.replace("  body: İlçenin", "  bdy: İlçenin"))
    assert message.startswith(f"{position(path, 'bdy:')}: lead.bdy: unknown field 'bdy'")


def test_an_edition_with_another_id(project):
    message, path = load_error(project, "id: something-else\n" + TURKISH)
    assert message == (
        f"{path}:1:1: id: an edition has its issue's id (editions-test) or none, "
        "not 'something-else'"
    )


def test_an_edition_with_the_issues_id_is_fine(project):
    assert edition(project, text="id: editions-test\n" + TURKISH).issue.id == "editions-test"


def test_a_language_that_does_not_match_the_file_name(project):
    message, path = load_error(project, "language: ar\n" + TURKISH)
    assert message == (
        f"{path}:1:1: language: language 'ar' does not match the file name, which names the "
        "'tr' edition"
    )


def test_a_link_without_url_where_the_default_has_no_link(project):
    text = TURKISH.replace(
        "      - title: Viranşehir'de güneş enerjili kurutucular\n",
        "      - title: Viranşehir'de güneş enerjili kurutucular\n"
        "        links:\n          - label: Ayrıntılar\n",
    )
    message, path = load_error(project, text)
    assert message == (
        f"{position(path, 'label: Ayrıntılar')}: sections[0].items[1].links[0]: a link "
        "without url, and issue.yaml has no link 1 of item 2 of section 1 to take it from "
        "(items are matched by position within each section)"
    )


def test_an_extra_link_without_url(project):
    text = TURKISH.replace("    - label: Filmi izleyin\n",
                           "    - label: Filmi izleyin\n    - label: Paylaşın\n")
    message, path = load_error(project, text)
    assert message.startswith(
        f"{position(path, 'label: Paylaşın')}: lead.links[2]: a link without url, and "
        "issue.yaml has no link 3 of the lead to take it from"
    )


def test_an_image_without_src_where_the_default_has_no_image(project):
    text = TURKISH.replace(
        "        body: Mevsimlik",
        "        image: {alt: Kurutucular}\n        body: Mevsimlik",
    )
    message, path = load_error(project, text)
    assert message.startswith(
        f"{position(path, 'image: {alt')}: sections[0].items[1].image: an image without src, and "
        "issue.yaml has no image of item 2 of section 1 to take it from"
    )


def test_an_item_beyond_the_defaults_must_bring_its_own_urls(project):
    text = TURKISH + "      - title: Yeni\n        links:\n          - label: Okuyun\n"
    message, path = load_error(project, text)
    assert message.startswith(f"{position(path, 'label: Okuyun')}: sections[0].items[2].links[0]")


def test_an_edition_in_the_defaults_language(project):
    message, path = load_error(project, TURKISH, tag="EN")
    assert message == (
        f"{path}:1: a second 'EN' edition: issue.yaml is already the 'EN' edition"
    )


@pytest.mark.parametrize("second", ["issue.TR.yaml", "issue.tr.yml"])
def test_two_files_for_one_language(project, second):
    """Whatever the spelling, one of the two files would be silently ignored: the
    translator's edits in it would never reach a reader."""
    path = write_issue(project, {"tr": TURKISH})
    project.write_issue(TURKISH, second)
    with pytest.raises(InputError) as caught:
        load_editions(path)
    first, then = sorted([path.with_name("issue.tr.yaml"), path.with_name(second)])
    tag = then.name.split(".")[1]
    assert str(caught.value) == (
        f"{then}:1: a second '{tag}' edition: {first.name} is already the '{tag}' edition"
    )


def test_a_mistake_in_an_edition_stops_the_whole_issue_but_not_another_edition(project):
    path = write_issue(project, {"tr": "id: other\n" + TURKISH})
    with pytest.raises(InputError, match=r"issue\.tr\.yaml:1:1: id: "):
        load_editions(path)
    narrowed = load_editions(path, edition="en")  # only the chosen editions are loaded
    assert [loaded.path for loaded in narrowed.chosen] == [path]
    assert narrowed.route("tr") == "tr"


# --- through the command line -------------------------------------------------------------------


BROKEN = {
    "an unknown field": (TURKISH.replace("  body: İlçenin", "  bdy: İlçenin"), "bdy:"),
    "another id": ("id: something-else\n" + TURKISH, "id:"),
    "a language not its file name's": ("language: ar\n" + TURKISH, "language:"),
    "a link without url": (
        TURKISH + "      - title: Yeni\n        links:\n          - label: Okuyun\n",
        "label: Okuyun",
    ),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_check_of_a_bad_edition_exits_2_with_one_located_line(project, kind):
    text, needle = BROKEN[kind]
    write_issue(project, {"tr": text})
    path = project.root / "issues" / "issue.tr.yaml"
    result = CliRunner().invoke(app, ["check", str(path), "--offline"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"Error: {position(path, needle)}: "), result.output


def test_check_of_a_good_edition_file_checks_that_edition(project):
    write_issue(project, {"tr": TURKISH})
    path = project.root / "issues" / "issue.tr.yaml"
    result = CliRunner().invoke(app, ["check", str(path), "--offline", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["issue"] == str(path) and report["counts"]["error"] == 0
    (size,) = [finding for finding in report["findings"] if finding["check"] == "size"]
    assert size["location"]["path"] == str(path)


def test_the_issues_own_postal_address_is_inherited_and_its_reason_is_not(project):
    default = DEFAULT.replace("social:", "footer:\n  postal_address: Kilis, Türkiye\n  reason: "
                              "You asked for it.\nsocial:")
    project.write_issue(TURKISH, "issue.tr.yaml")
    project.write_issue(default)
    loaded = load_editions(project.root / "issues" / "issue.tr.yaml").chosen[0]
    assert loaded.footer.postal_address == "Kilis, Türkiye"
    assert loaded.footer.reason != "You asked for it."  # mailer.toml's, not the English one
