"""The spam check: what SpamAssassin's stock rules would score, found before sending, each
warning at the line that causes it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mailer.checks import CheckOptions, Finding, spam
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = CheckOptions(offline=True)
ISSUE = """
id: spam-test
subject: Clean water for 8,600 people
preheader: How a small grant changed a district.
lead:
  title: Clean water for 8,600 people
  body: |
    GREETING

    The district's new pumps run on solar power, and the water committee that runs them
    meets every week in the school. Families who walked two hours for water now walk ten
    minutes; the clinic has water every day, and the school's children stay in class.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/clean-water
"""


def findings(project, text: str) -> list[Finding]:
    ready = prepare(load(project.write_issue(text)), real_send=False)
    return spam.check(ready.loaded, ready, options=OFFLINE)


def line_of(project, text: str) -> int:
    lines = (project.root / "issues" / "issue.yaml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize("example", ["2018-03-iom-turkey", "2021-01-project-update"])
def test_the_examples_give_spam_filters_nothing(example):
    ready = prepare(load(ROOT / "issues" / f"{example}.yaml"), real_send=False)
    assert spam.check(ready.loaded, ready, options=OFFLINE) == []


@pytest.mark.parametrize(
    "greeting",
    [
        'Hello {{ subscriber.first_name | default("there") }},',
        "Hello {{ subscriber.first_name }},",
        'Dear {{ subscriber.first_name | default("reader") }},',
        "Dear colleagues,",
    ],
)
def test_greetings_no_filter_minds_pass(project, greeting):
    assert findings(project, ISSUE.replace("GREETING", greeting)) == []


@pytest.mark.parametrize(
    ("greeting", "rule"),
    [
        ('Dear {{ subscriber.first_name | default("friend") }},', "DEAR_FRIEND"),
        ('Dear {{ subscriber.first_name | default("Friend") }}!', "DEAR_FRIEND"),
        ("Dear friend, welcome.", "DEAR_FRIEND"),
        ("Dear Sir or Madam,", "DEAR_SOMETHING"),
    ],
)
def test_greetings_spamassassin_scores_are_warnings_at_their_line(project, greeting, rule):
    (finding,) = findings(project, ISSUE.replace("GREETING", greeting))
    assert finding.severity == "warning"
    assert rule in finding.message and "points" in finding.message
    assert finding.location.line == line_of(project, "body: |")
    assert 'default("there")' in finding.fix


def test_an_all_caps_subject_is_a_warning(project):
    text = ISSUE.replace("subject: Clean water for 8,600 people", "subject: CLEAN WATER FOR ALL")
    (finding,) = findings(project, text.replace("GREETING", "Hello,"))
    assert "SUBJ_ALL_CAPS" in finding.message
    assert finding.location.line == line_of(project, "subject:")


def test_a_short_or_mixed_case_subject_is_not_all_caps(project):
    for subject in ("IOM NEWS", "IOM Turkey: NEWS OF THE MONTH", "UNHCR and IOM in Ankara"):
        text = ISSUE.replace("subject: Clean water for 8,600 people", f"subject: '{subject}'")
        assert findings(project, text.replace("GREETING", "Hello,")) == [], subject


@pytest.mark.parametrize("subject", ["Clean water for all!!", "Did you know?!", "Read this !!!"])
def test_a_shouting_subject_is_a_warning(project, subject):
    text = ISSUE.replace("subject: Clean water for 8,600 people", f'subject: "{subject}"')
    (finding,) = findings(project, text.replace("GREETING", "Hello,"))
    assert "'!!'" in finding.message
    assert finding.location.line == line_of(project, "subject:")


def test_pictures_with_hardly_any_words_are_a_warning(project):
    text = """
    id: spam-test
    subject: Our month in pictures
    lead:
      title: In pictures
      image: {src: assets/photo.png, alt: Volunteers at the water point}
    sections:
      - title: More
        items:
          - image: {src: assets/photo.png, alt: The new pumps}
            title: Pumps
    """
    (finding,) = findings(project, text)
    assert "HTML_IMAGE_ONLY" in finding.message
    assert finding.location.line == 3  # lead:


def test_little_text_for_big_images_is_a_warning(project):
    words = "The district's new pumps run on solar power. " * 12
    text = f"""
    id: spam-test
    subject: Our month in pictures
    lead:
      title: In pictures
      image: {{src: assets/photo.png, alt: Volunteers at the water point}}
      body: {words}
    """
    ready = prepare(load(project.write_issue(text)), real_send=False)
    html = ready.rendered.html.replace('height="auto"', 'height="1800"')
    ready = replace(ready, rendered=replace(ready.rendered, html=html))  # a tall image
    (finding,) = spam.check(ready.loaded, ready, options=OFFLINE)
    assert "HTML_IMAGE_RATIO" in finding.message
