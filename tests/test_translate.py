"""Translations that know they are stale, and ``mailer translate``: an edition started with
every text marked, its texts traded with translators as a PO file and written back in place.

Stale translations are told from a real git repository's history (git run in tmp_path), and
outside git from the fingerprints ``mailer translate`` keeps.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import textwrap
from pathlib import Path

import polib
import pytest
from projects import Project, mailer, position

from mailer.checks import CHECKS, translations
from mailer.checks.base import CheckOptions
from mailer.compose.editions import load_editions
from mailer.compose.yaml_source import load_yaml
from mailer.compose.yaml_spans import rewrite

DEFAULT = """
id: translate-test
language: en
subject: Clean water for 8,600 people
preheader: How a small grant changed a district.
lead:
  title: Clean water for 8,600 people
  image:
    src: assets/photo.png
    alt: Volunteers unloading jerrycans of water
    credit: IOM / Lanna Walsh
  body: >-
    The district's new pumps run on solar power, and the clinic has water every day.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/water
sections:
  - title: Highlights
    items:
      - title: A library opens in Kilis
        body: Books and the internet, free of charge.
      - title: Solar dryers
        quote:
          text: It was hard at the beginning.
          attribution: Delbaz, from Al-Hasakeh
"""

# The Turkish edition as a translator writes it: comments, quotes and blocks of every kind.
TURKISH = """
# Turkish: Ayşe, January 2026
subject: "8.600 kişiye temiz su"
preheader: 'Küçük bir hibe bir ilçeyi nasıl değiştirdi.'
lead:
  title: 8.600 kişiye temiz su   # kept short for phones
  image:
    alt: Su bidonlarını indiren gönüllüler
  body: |
    İlçenin yeni pompaları güneş enerjisiyle çalışıyor.

    Sağlık ocağında her gün su var.

  links:
    - label: Devamını okuyun
sections:
  - title: Öne Çıkanlar
    items:
      - title: Kilis'te bir kütüphane açıldı
        body: >-
          Kitaplar ve internet,
          ücretsiz.
      - title: Güneş enerjili kurutucular
        quote:
          text: Başlangıçta zordu.
          attribution: Haseke'den Delbaz
"""

NEW_BODY = "The pumps run on solar power; the clinic and the school have water every day."


def git(root: Path, *args: str, day: str = "2026-11-20") -> str:
    """``git ARGS`` in ``root``, committing as a test author on ``day`` (noon, UTC+3)."""
    stamp = f"{day}T12:00:00+03:00"
    environment = {
        **os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.org",
        "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(root: Path, message: str, day: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, day=day)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repository(project: Project) -> tuple[Path, Path]:
    """The issue and its Turkish edition, committed together in a new git repository."""
    default = project.write_issue(DEFAULT)
    edition = project.write_issue(TURKISH, "issue.tr.yaml")
    git(project.root, "init", "-q", "-b", "main")
    commit(project.root, "The issue in English and Turkish", "2026-11-20")
    return default, edition


def stale_of(default: Path) -> list[tuple[str, str]]:
    """Where and what the check says about texts translated from an older text."""
    editions = load_editions(default)
    found = translations.stale(editions.get("tr"), editions.default)
    return [(str(finding.location), finding.message) for finding in found]


def change(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- stale translations, from git's history -----------------------------------------------------


def test_check_warns_at_the_edition_line_after_the_default_changed_and_not_after_the_translation(
    repository,
):
    default, edition = repository
    assert stale_of(default) == []

    change(default, "The district's new pumps run on solar power, and the clinic has water every "
           "day.", NEW_BODY)
    sha = commit(default.parent.parent, "The lead says more", "2026-12-01")
    status, output = mailer("check", default, "--offline")
    assert status == 0, output
    assert (
        f"{position(edition, 'body: |')}: warning [translations] lead.body: translated from an "
        f"older text (the default changed in commit {sha[:7]}, 2026-12-01)"
    ) in output
    assert output.count("[translations]") == 1  # the other texts did not change

    change(edition, "Sağlık ocağında her gün su var.", "Sağlık ocağında ve okulda her gün su var.")
    commit(default.parent.parent, "Turkish: the new lead", "2026-12-02")
    status, output = mailer("check", default, "--offline")
    assert "[translations]" not in output, output


def test_a_change_not_committed_yet_is_a_change_made_now(repository):
    default, edition = repository
    change(default, "Books and the internet, free of charge.", "Books, films and the internet.")
    assert stale_of(default) == [(
        position(edition, "body: >-"),
        "sections[0].items[0].body: translated from an older text (the default's text changed "
        "and is not committed yet)",
    )]
    change(edition, "ücretsiz.", "ücretsiz, filmler de.")  # the translator at work, not committed
    assert stale_of(default) == []


def test_a_translation_committed_later_without_the_defaults_change_in_its_past_is_stale(
    repository,
):
    """Dates do not tell: the translator's branch, merged after the default's change, was
    made without it."""
    default, edition = repository
    root = default.parent.parent
    git(root, "checkout", "-q", "-b", "turkish")
    change(edition, "Devamını okuyun", "Devamı")
    commit(root, "Turkish: a shorter label", "2026-12-03")
    git(root, "checkout", "-q", "main")
    change(default, "  - label: Read more", "  - label: Read the story")
    sha = commit(root, "A clearer label", "2026-12-01")
    git(root, "merge", "-q", "--no-edit", "turkish", day="2026-12-04")
    assert stale_of(default) == [(
        position(edition, "label: Devamı"),
        f"lead.links[0].label: translated from an older text (the default changed in commit "
        f"{sha[:7]}, 2026-12-01)",
    )]


# --- starting an edition ----------------------------------------------------------------------


def test_translate_starts_an_edition_with_every_text_marked_and_check_refuses_it(project):
    default = project.write_issue(DEFAULT)
    status, output = mailer("translate", default, "--lang", "fr")
    assert status == 0, output
    edition = default.with_name("issue.fr.yaml")
    assert f"Started {edition}: 12 texts to translate, each marked [TRANSLATE]" in output

    text = edition.read_text(encoding="utf-8")
    for gone in ("id:", "language:", "url:", "src:", "credit:"):
        assert gone not in text  # what the edition takes from the default
    loaded = load_editions(default).get("fr")  # an edition that loads, URLs and photo included
    assert loaded.issue.lead.links[0].url == "https://turkiye.iom.int/news/water"
    assert loaded.issue.lead.image.src == "assets/photo.png"
    assert loaded.issue.subject == "[TRANSLATE] Clean water for 8,600 people"
    assert loaded.issue.sections[0].items[1].quote.attribution == (
        "[TRANSLATE] Delbaz, from Al-Hasakeh"
    )

    assert CHECKS["translations"] is translations.check  # which mailer send runs first, too
    errors = translations.check(loaded, None, options=CheckOptions())  # type: ignore[arg-type]
    assert len(errors) == 12 and {e.severity for e in errors} == {"error"}
    assert (str(errors[0].location), errors[0].message) == (
        position(edition, "subject:"), "subject: not translated yet (still marked [TRANSLATE])",
    )


def test_translate_never_overwrites_an_edition(project):
    default = project.write_issue(DEFAULT)
    edition = project.write_issue(TURKISH, "issue.tr.yaml")
    before = edition.read_bytes()
    status, output = mailer("translate", default, "--lang", "TR")
    assert status == 1
    assert f"Error: {edition} already exists; nothing was changed" in output
    assert edition.read_bytes() == before

    for tag in ("not a tag", "../fr", "fr/.."):  # never a path out of the issue's folder
        status, output = mailer("translate", default, "--lang", tag)
        assert (status, output.splitlines()[-1]) == (
            2, f"Error: --lang {tag}: not a language tag (such as fr, tr or pt-BR)"
        )
    assert sorted(path.name for path in default.parent.glob("*.yaml")) == sorted([
        default.name, edition.name,
    ])


# --- stale translations outside git: fingerprints ---------------------------------------------


def test_outside_git_the_fingerprints_tell_and_refresh_records_the_new_text(project):
    default = project.write_issue(DEFAULT)
    mailer("translate", default, "--lang", "tr")
    edition = default.with_name("issue.tr.yaml")
    assert default.with_name("issue.tr.translated-from.json").is_file()
    change(edition, "[TRANSLATE] How a small grant changed a district.",
           "Küçük bir hibe bir ilçeyi nasıl değiştirdi.")
    assert stale_of(default) == []

    change(default, "How a small grant changed a district.", "How a grant changed a district.")
    ((where, message),) = stale_of(default)
    assert (where, message) == (
        position(edition, "preheader:"),
        "preheader: translated from an older text (the default's text changed since "
        "issue.tr.translated-from.json recorded it)",
    )
    status, output = mailer("translate", default, "--lang", "tr", "--refresh")
    assert status == 0, output
    assert stale_of(default) == []


# --- PO export and import -----------------------------------------------------------------------


@pytest.fixture
def exported(project: Project, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The issue, its Turkish edition (outside git) and the edition's texts as a PO file."""
    default = project.write_issue(DEFAULT)
    edition = project.write_issue(TURKISH, "issue.tr.yaml")
    po = tmp_path / "issue.tr.po"
    status, output = mailer("translate", default, "--lang", "tr", "--po", po)
    assert status == 0, output
    return default, edition, po


def test_a_po_file_carries_each_text_with_its_field_the_default_and_the_translation(exported):
    default, _, po_path = exported
    po = polib.pofile(str(po_path))
    assert po.metadata["Language"] == "tr"
    entries = {entry.msgctxt: entry for entry in po}
    assert len(entries) == 12
    body = entries["lead.body"]
    assert body.msgid == (
        "The district's new pumps run on solar power, and the clinic has water every day."
    )
    assert body.msgstr == (
        "İlçenin yeni pompaları güneş enerjisiyle çalışıyor.\n\nSağlık ocağında her gün su var.\n"
    )
    assert body.occurrences == [("issues/issue.yaml", position(default, "body: >-").split(":")[1])]
    assert entries["sections[0].items[1].quote.attribution"].msgstr == "Haseke'den Delbaz"


def test_a_po_imported_unchanged_leaves_the_edition_byte_for_byte(exported):
    default, edition, po = exported
    edition.write_bytes(edition.read_bytes().replace(b"\n", b"\r\n"))  # Windows line ends too
    before = edition.read_bytes()
    status, output = mailer("translate", default, "--lang", "tr", "--po-import", po)
    assert status == 0, output
    assert "0 texts changed, 12 as they were" in output
    assert edition.read_bytes() == before


def test_a_po_edited_with_polib_imports_into_the_right_fields_keeping_the_rest(exported):
    default, edition, po_path = exported
    po = polib.pofile(str(po_path))
    new = {
        "lead.body": "Pompalar güneşle çalışıyor: \"her gün\" su var.\n",
        "sections[0].items[0].title": "Kilis: yeni bir kütüphane",
        "lead.links[0].label": "Devamı",
        "sections[0].items[1].quote.text": "İlk başta zordu.\nSonra alıştık.",
    }
    for entry in po:
        entry.msgstr = new.get(entry.msgctxt, entry.msgstr)
    po.save(str(po_path))
    before = edition.read_text(encoding="utf-8").splitlines()

    status, output = mailer("translate", default, "--lang", "tr", "--po-import", po_path)
    assert status == 0, output
    assert "4 texts changed, 8 as they were" in output
    document = load_yaml(edition)
    data = document.data
    assert data["lead"]["body"] == new["lead.body"]
    assert data["sections"][0]["items"][0]["title"] == new["sections[0].items[0].title"]
    assert data["lead"]["links"][0]["label"] == "Devamı"
    assert data["sections"][0]["items"][1]["quote"]["text"] == "İlk başta zordu.\nSonra alıştık."
    after = edition.read_text(encoding="utf-8").splitlines()
    removed = [line for line in difflib.ndiff(before, after) if line.startswith("- ")]
    assert removed == [  # the four texts' lines; comments, quotes and all the rest as they were
        "-     İlçenin yeni pompaları güneş enerjisiyle çalışıyor.", "- ",
        "-     Sağlık ocağında her gün su var.", "-     - label: Devamını okuyun",
        "-       - title: Kilis'te bir kütüphane açıldı", "-           text: Başlangıçta zordu.",
    ]
    assert "# Turkish: Ayşe, January 2026" in after
    assert load_editions(default).get("tr").issue.lead.body == new["lead.body"].strip()


def test_a_po_text_for_a_field_the_issue_does_not_have_is_an_error_at_its_line(exported):
    default, edition, po_path = exported
    po = polib.pofile(str(po_path))
    po.append(polib.POEntry(msgctxt="lead.subtitle", msgid="A subtitle", msgstr="Bir alt başlık"))
    po.save(str(po_path))
    line = po_path.read_text(encoding="utf-8").splitlines().index('msgctxt "lead.subtitle"') + 1
    before = edition.read_bytes()
    status, output = mailer("translate", default, "--lang", "tr", "--po-import", po_path)
    assert status == 2
    assert output.startswith(f"Error: {po_path}:{line}: lead.subtitle: the issue has no text to ")
    assert edition.read_bytes() == before


def test_a_translation_for_a_text_the_edition_leaves_out_is_added_to_its_mapping(exported):
    default, edition, po_path = exported
    change(edition, "    alt: Su bidonlarını indiren gönüllüler\n", "    caption: Kilis.\n")
    po = polib.pofile(str(po_path))
    for entry in po:
        if entry.msgctxt == "lead.image.alt":
            entry.msgstr = "Gönüllüler"
    po.save(str(po_path))
    status, output = mailer("translate", default, "--lang", "tr", "--po-import", po_path)
    assert status == 0, output
    assert "    caption: Kilis.\n    alt: Gönüllüler\n" in edition.read_text(encoding="utf-8")


@pytest.mark.parametrize("text", [
    "plain words", "it's: a colon", "# not a comment", "yes", "2026", "", "  leading space",
    "two\nlines", "a block\n", "ends in blank lines\n\n", "tab\tinside", "quote \" and '",
    "- like a list", "ünïcödé ‘’“”", "line\n  indented\nthird",
])
@pytest.mark.parametrize("written", [
    "key: old\n", "key: 'old'\n", 'key: "old"\n', "key: |\n  old\n", "key: >-\n  old\n  text\n",
])
def test_a_rewritten_text_reads_back_as_written(tmp_path, written, text):
    path = tmp_path / "x.yaml"
    path.write_text(f"# head\nparent:\n{textwrap.indent(written, '  ')}  after: 1\n",
                    encoding="utf-8")
    original = path.read_text(encoding="utf-8")
    path.write_text(rewrite(original, {("parent", "key"): text}), encoding="utf-8")
    assert load_yaml(path).data == {"parent": {"key": text, "after": 1}}


@pytest.mark.parametrize("content", [None, 'msgid "x"\nmsgstr'], ids=["missing", "broken"])
def test_a_missing_or_broken_po_file_is_one_error_line_and_changes_nothing(exported, content):
    default, edition, po_path = exported
    if content is None:
        po_path.unlink()
    else:
        po_path.write_text(content, encoding="utf-8")
    before = edition.read_bytes()
    status, output = mailer("translate", default, "--lang", "tr", "--po-import", po_path)
    assert status == 2
    why = "no such file" if content is None else "Syntax error in po file"
    assert output.startswith(f"Error: {po_path}: cannot read the PO file ({why}")
    assert len(output.strip().splitlines()) == 1 and "None" not in output
    assert edition.read_bytes() == before
