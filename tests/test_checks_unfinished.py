"""``mailer check`` finds the empty and the unfinished: an issue with nothing to send, and what
``mailer new`` wrote as stand-ins (example links, placeholder ids, its own sentences), each an
error at its YAML line; example addresses in mailer.toml are only warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.checks import CheckOptions, Finding, content
from mailer.cli import app
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = CheckOptions(offline=True)


def findings(path: Path) -> list[Finding]:
    ready = prepare(load(path), real_send=False)
    return content.check(ready.loaded, ready, options=OFFLINE)


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if text in line)


@pytest.mark.parametrize("example", ["2018-03-iom-turkey", "2021-01-project-update"])
def test_the_examples_are_finished(example):
    assert findings(ROOT / "issues" / f"{example}.yaml") == []


def test_an_issue_with_only_an_id_and_a_subject_is_an_error(project):
    path = project.write_issue("id: empty\nsubject: Our news\n")
    (finding,) = findings(path)
    assert finding.severity == "error"
    assert "nothing to send" in finding.message
    assert finding.location.line == 1
    result = CliRunner().invoke(app, ["check", str(path), "--offline"])
    assert result.exit_code == 1, result.output


def test_the_untouched_scaffold_fails_check_naming_each_line(project, tmp_path):
    path = project.root / "issues" / "2026-12.yaml"
    assert CliRunner().invoke(app, ["new", str(path)]).exit_code == 0
    result = CliRunner().invoke(app, ["check", str(path), "--offline"])
    assert result.exit_code == 1, result.output
    errors = [f for f in findings(path) if f.severity == "error"]
    where = {f.location.line for f in errors}
    for text in (
        "url: https://www.example.org/news/main-story",
        "watch?v=XXXXXXXXXXX",
        "title: The main story of this issue",
        "Two or three sentences",
        'subject: "Our news this month"',
        "title: A highlight",
    ):
        assert line_of(path, text) in where, text
    # Its greeting is meant to stay; the section titles and link labels are fine too.
    assert not [f for f in errors if "Hello" in f.message or "Read more" in f.message]
    assert not [f for f in errors if "'Highlights'" in f.message]


def test_filling_in_the_scaffold_clears_the_errors(project):
    path = project.root / "issues" / "2026-12.yaml"
    CliRunner().invoke(app, ["new", str(path)])
    text = path.read_text("utf-8")
    for old, new in (
        ("Our news this month", "Water for Kilis"),
        ("One sentence that shows after the subject in the inbox.", "Pumps that run on sun."),
        ("The main story of this issue", "Solar pumps reach three villages"),
        ("Two or three sentences that make readers want to know more.", "The pumps run."),
        ("https://www.example.org/news/main-story", "https://turkiye.iom.int/news/pumps"),
        ("A highlight", "A library in Kilis"),
        ("One paragraph about it.", "It opened in May."),
        ("https://www.example.org/news/highlight", "https://turkiye.iom.int/news/library"),
        ("A video", "Film festival"),
        ("watch?v=XXXXXXXXXXX", "watch?v=IOMtr18mthD"),
        ("Who the person is.", "Delbaz paints."),
        ("What they said, in their own words.", "Art breaks down walls."),
        ("Their name", "Delbaz"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, "utf-8")
    assert findings(path) == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://example.com/a", "example.com"),
        ("https://news.example.net/a", "news.example.net"),
        ("https://site.test/a", "site.test"),
    ],
)
def test_an_example_link_in_the_issue_is_an_error_at_its_line(project, url, host):
    path = project.write_issue(f"""
        id: links
        subject: Our news
        lead:
          title: A story
          body: See [the report]({url}).
        """)
    (finding,) = findings(path)
    assert finding.severity == "error" and host in finding.message
    assert finding.location.line == line_of(path, "body:")


def test_a_word_that_only_contains_example_is_not_an_example_link(project):
    path = project.write_issue("""
        id: links
        subject: Our news
        lead:
          title: An example of good practice
          links: [{label: Read more, url: "https://www.examples-of-cohesion.org/kilis"}]
        """)
    assert findings(path) == []


@pytest.mark.parametrize("note", ["TODO: add the photo credit", "Lorem ipsum dolor sit amet."])
def test_notes_to_self_and_filler_are_errors(project, note):
    path = project.write_issue(f"""
        id: notes
        subject: Our news
        lead:
          title: A story
          body: "{note}"
        """)
    (finding,) = findings(path)
    assert finding.severity == "error" and finding.location.line == line_of(path, "body:")


def test_example_addresses_in_mailer_toml_are_only_warnings(project):
    settings = project.settings.read_text("utf-8")
    settings = settings.replace('address = "newsletter@iom.int"', 'address = "news@example.org"')
    settings = re.sub(r'website = ".*"', 'website = "https://www.example.org/"', settings)
    project.settings.write_text(settings, "utf-8")
    path = project.write_issue("id: x\nsubject: Our news\nlead:\n  title: A story\n")
    found = findings(path)
    assert {f.severity for f in found} == {"warning"}
    lines = {f.location.line for f in found if f.location.path == project.settings}
    assert lines == {line_of(project.settings, "news@example.org"),
                     line_of(project.settings, "www.example.org")}
    result = CliRunner().invoke(app, ["check", str(path), "--offline"])
    assert "[content]" in result.output and " 0 errors" in result.output.splitlines()[0]
