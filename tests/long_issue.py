"""A long issue for size and layout tests: 40 stories with titles, bodies and links, every
fourth with a photo, in sections of ten: as long as the longest newsletter an office sends."""

from __future__ import annotations

import textwrap

STORIES = 40
SECTION_SIZE = 10

_BODY = (
    "IOM staff met {n} partner organisations in Gaziantep, Şanlıurfa and Hatay this month to "
    "plan the next phase of the programme, which supports migrants and host communities with "
    "vocational training, psychosocial support and access to local services. “The families we "
    "work with want to stand on their own feet,” said a project officer. More than {people} "
    "people took part in the activities described in story {n}."
)


def long_issue(stories: int = STORIES, photo: str = "assets/photo.png") -> str:
    """The YAML of an issue with ``stories`` stories (``photo`` on every fourth)."""
    lines = [
        "id: long-issue",
        "language: en",
        "title: IOM Turkey Newsletter",
        "period: January – December 2025",
        'subject: "IOM Turkey Newsletter: the year in forty stories"',
        "preheader: Forty stories from IOM Turkey's offices across the country this year.",
        "sections:",
    ]
    for number in range(1, stories + 1):
        if number % SECTION_SIZE == 1:
            lines.append(f"  - title: Highlights, part {number // SECTION_SIZE + 1}")
            lines.append("    items:")
        lines.append(
            f"      - title: Story {number}, a new community centre opens its doors to "
            "migrant and host families"
        )
        if number % 4 == 0:
            lines.append(
                f"        image: {{src: {photo}, alt: Families at the opening of centre {number}}}"
            )
        lines.append("        body: >-")
        body = _BODY.format(n=number, people=number * 25)
        lines += ["          " + line for line in textwrap.wrap(body, 80)]
        lines.append("        links:")
        lines.append(
            f"          - {{label: Read more, url: 'https://turkiye.iom.int/news/story-{number}'}}"
        )
    return "\n".join(lines) + "\n"
