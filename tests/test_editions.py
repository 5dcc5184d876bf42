"""Editions: what an edition file takes from its issue's default file, which edition each
reader gets, which editions a command acts on, and one located line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import Project

from mailer.compose.editions import Editions, load_editions
from mailer.errors import InputError

DEFAULT = """
id: editions-test
language: en
subject: Clean water for 8,600 people
period: January 2026
brand:
  primary_color: "#112233"
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


@pytest.fixture
def editions(project: Project) -> Editions:
    """An English issue with editions in pt and pt-BR (and none in tr)."""
    text = MINIMAL.format(subject="Água limpa", label="Leia mais")
    return load_editions(write_issue(project, {"pt": text, "pt-BR": text}))


def test_the_editions_and_their_tags(editions):
    assert editions.tags == ("en", "pt", "pt-BR")
    assert editions.default_tag == "en" and editions.several
    assert [loaded.issue.language for loaded in editions.chosen] == ["en", "pt", "pt-BR"]
    assert editions.issue_id == "editions-test"
    assert editions.get("PT-br").path.name == "issue.pt-BR.yaml"


def test_an_issue_whose_name_has_glob_characters_has_its_editions(project):
    path = project.write_issue(DEFAULT, "2026[1].yaml")
    project.write_issue(TURKISH, "2026[1].tr.yaml")
    assert load_editions(path).tags == ("en", "tr")


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

