"""Topics and segments: ``[list.topics]``, an issue's ``audience:``, the readers a send reaches
by their CSV tags, and what ``send --dry-run``, the prompt and ``mailer status`` say of them."""

from __future__ import annotations

import csv
import json
import mailbox
from email.utils import parseaddr
from pathlib import Path

import pytest
from projects import mailer, position
from sending import make_project

from mailer.audience.audience import Segment
from mailer.audience.subscribers import SubscriberReader, split_tags
from mailer.compose.editions import load_editions
from mailer.compose.issue import load
from mailer.errors import ConfigError, InputError
from mailer.settings import load_settings

TOPICS = """
[list.topics.partners]
en = "Partner news"
tr = "Ortak haberleri"

[list.topics.staff]
en = "Staff only"
"""

# Who follows what: the two partners of staff are left out of an issue for partners but staff.
READERS = [
    ("ayse@example.org", "tr", "partners|ankara"),
    ("layla@example.net", "ar", "Partners"),
    ("sarah@example.org", "en", '"donors", "partners"'),  # a comma list, as Mailchimp writes
    ("omar@example.net", "en", "partners, staff"),
    ("mehmet@example.org", "tr", "partners|staff"),
    ("jean@example.com", "en", "donors"),
    ("fatma@example.com", "tr", ""),
]
PARTNERS_NOT_STAFF = ["ayse@example.org", "layla@example.net", "sarah@example.org"]


def write_readers(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "language", "tags"])
        for address, language, tags in rows:
            writer.writerow([address, address.split("@")[0].title(), language, tags])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with the topics partners and staff, and :data:`READERS` as its list."""
    issue = make_project(tmp_path / "news")
    settings = tmp_path / "news" / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + TOPICS, encoding="utf-8")
    write_readers(tmp_path / "news" / "subscribers.example.csv", READERS)
    monkeypatch.chdir(tmp_path / "news")
    return issue


def with_audience(issue: Path, audience: str) -> Path:
    issue.write_text(issue.read_text(encoding="utf-8") + audience, encoding="utf-8")
    return issue


def recipients(project: Path) -> list[str]:
    box = mailbox.Maildir(project.parents[1] / "outbox", create=False)
    return sorted(parseaddr(message["To"])[1] for message in box)


# -- the settings and the issue ---------------------------------------------------------


def test_topics_have_a_label_per_language_with_fallbacks(project: Path) -> None:
    listed = load_settings(project.parents[1] / "mailer.toml").settings.list
    assert list(listed.topics) == ["partners", "staff"]
    assert listed.topic_label("partners", "tr") == "Ortak haberleri"
    assert listed.topic_label("Partners", "tr-TR") == "Ortak haberleri"  # the primary language
    assert listed.topic_label("staff", "tr") == "Staff only"  # the list's language (en)
    assert listed.topic_label("unknown", "tr") == "unknown"


@pytest.mark.parametrize(("table", "message"), [
    ('[list.topics.Partners]\nen = "Partners"\n', "are one topic"),
    ('[list.topics."a|b"]\nen = "A or B"\n', "cannot hold them"),
    ('[list.topics.donors]\nenglish = "Donors"\n', "not a BCP 47 language tag"),
])
def test_a_wrong_topic_in_the_settings_is_located(
    project: Path, table: str, message: str
) -> None:
    settings = project.parents[1] / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(settings)
    assert str(raised.value).startswith(f"{settings}:")


def test_an_unknown_topic_in_the_audience_is_located(project: Path) -> None:
    with_audience(project, "audience:\n  topics: [partners]\n  exclude: [stuff]\n")
    with pytest.raises(InputError) as raised:
        load(project)
    assert str(raised.value) == (
        f"{position(project, 'stuff')}: audience.exclude[0]: unknown topic 'stuff' (the list's "
        "topics, [list.topics] in mailer.toml: partners, staff)"
    )


@pytest.mark.parametrize(("audience", "message"), [
    ("audience: {}\n", "audience: name the topics the issue goes to"),
    ("audience: {topics: [partners], exclude: [Partners]}\n",
     "audience: partners: both in topics and in exclude"),
])
def test_an_audience_that_says_nothing_or_contradicts_itself_is_refused(
    project: Path, audience: str, message: str
) -> None:
    with_audience(project, audience)
    with pytest.raises(InputError, match=message):
        load(project)


def test_an_edition_takes_the_audience_of_its_issue_and_may_not_change_it(project: Path) -> None:
    with_audience(project, "audience: {topics: [partners]}\n")
    edition = project.with_name("send-test.tr.yaml")
    edition.write_text(project.read_text(encoding="utf-8").replace(
        "audience: {topics: [partners]}\n", ""), encoding="utf-8")
    (tr,) = load_editions(edition).chosen
    assert tr.issue.audience is not None and tr.issue.audience.topics == ["partners"]
    with_audience(edition, "audience: {topics: [staff]}\n")
    with pytest.raises(InputError, match="an edition goes to its issue's readers"):
        load_editions(edition)


# -- the readers' topics ----------------------------------------------------------------


@pytest.mark.parametrize(("cell", "tags"), [
    ("partners|ankara", ("partners", "ankara")),
    ("partners, ankara", ("partners", "ankara")),
    ('"Partner news","Ankara, Turkey"', ("Partner news", "Ankara, Turkey")),
    (" partners | | partners ", ("partners",)),
    ('a"b, c', ('a"b', "c")),
    ("", ()),
])
def test_tags_are_split_on_bars_and_commas(cell: str, tags: tuple[str, ...]) -> None:
    assert split_tags(cell) == tags


@pytest.mark.parametrize(("segment", "reached"), [
    (Segment.of(["partners"]), {"ayse", "layla", "sarah", "omar", "mehmet"}),
    (Segment.of(["partners"], ["staff"]), {"ayse", "layla", "sarah"}),
    (Segment.of(exclude=["staff"]), {"ayse", "layla", "sarah", "jean", "fatma"}),
    (Segment.of(["donors", "STAFF"]), {"sarah", "omar", "mehmet", "jean"}),
    (Segment(), {"ayse", "layla", "sarah", "omar", "mehmet", "jean", "fatma"}),
])
def test_a_segment_reaches_readers_by_the_topics_of_their_row(
    project: Path, segment: Segment, reached: set[str]
) -> None:
    readers = SubscriberReader(project.parents[1] / "subscribers.example.csv")
    assert {r.email.split("@")[0] for r in readers if segment.reaches(r.topics)} == reached


# -- sending ----------------------------------------------------------------------------


def test_an_issue_for_partners_reaches_only_the_partners(project: Path) -> None:
    with_audience(project, "audience: {topics: [partners], exclude: [staff]}\n")
    code, out = mailer("send", project, "--dry-run")
    assert code == 0, out
    assert "Dry run: built 3 messages" in out
    assert "Segment:   topics partners; not staff: 3 readers, 4 left out" in out

    code, out = mailer("send", project, "--yes")
    assert code == 0, out
    assert "Audience:  3 subscribers" in out
    assert "Segment:   topics partners; not staff: 3 readers, 4 left out" in out
    assert recipients(project) == PARTNERS_NOT_STAFF

    code, out = mailer("status", project)
    assert code == 0, out
    assert out.startswith("send-test: 3 sent, 0 failed, 0 deferred, 0 queued, 0 in flight, of 3")
    assert "  segment: topics partners; not staff: 4 readers left out" in out


def test_an_issue_without_audience_goes_to_everyone(project: Path) -> None:
    code, out = mailer("send", project, "--yes")
    assert code == 0, out
    assert "Segment:" not in out
    assert len(recipients(project)) == len(READERS)
    code, out = mailer("status", project, "--json")
    assert json.loads(out)["segment"] is None


def test_the_counts_per_edition_say_who_the_segment_left_out(project: Path) -> None:
    with_audience(project, "audience: {topics: [partners], exclude: [staff]}\n")
    project.with_name("send-test.tr.yaml").write_text(
        project.read_text(encoding="utf-8").replace("audience: {topics: [partners], "
                                                    "exclude: [staff]}\n", ""),
        encoding="utf-8",
    )
    code, out = mailer("send", project, "--dry-run")
    assert code == 0, out
    # en: sarah and layla (ar has no edition); tr: ayse. Left out: omar, jean (en), mehmet,
    # fatma (tr).
    assert "Editions:  en 2 (2 left out by the segment), tr 1 (2 left out by the segment)" in out
    code, out = mailer("send", project, "--yes")
    assert code == 0, out
    assert "Editions:  en 2 (2 left out by the segment), tr 1 (2 left out by the segment)" in out
    code, out = mailer("status", project)
    sent = "sent, 0 failed, 0 deferred, 0 queued, 0 in flight, of"
    assert f"  en edition: 2 {sent} 2 (2 left out by the segment)" in out
    assert f"  tr edition: 1 {sent} 1 (2 left out by the segment)" in out
    code, out = mailer("status", project, "--json")
    assert json.loads(out)["segment"] == {
        "audience": "topics partners; not staff", "left_out": 4,
        "left_out_by_edition": {"en": 2, "tr": 2},
    }


def test_a_segment_that_reaches_nobody_sends_nothing_and_says_why(project: Path) -> None:
    write_readers(project.parents[1] / "subscribers.example.csv", READERS[5:])
    with_audience(project, "audience: {topics: [partners]}\n")
    code, out = mailer("send", project, "--yes")
    assert code == 0, out
    assert "no reader is in the issue's audience (topics partners; 2 readers left out)" in out
    assert not (project.parents[1] / "outbox").exists()


def segment_warnings(issue: Path) -> list[dict]:
    code, out = mailer("check", issue, "--offline", "--json")
    assert code == 0, out
    return [f for f in json.loads(out)["findings"] if "audience" in f["message"]]


def test_check_warns_when_the_audience_reaches_nobody_in_the_list(project: Path) -> None:
    with_audience(project, "audience:\n  topics: [staff]\n")
    assert segment_warnings(project) == []  # omar and mehmet
    write_readers(project.parents[1] / "subscribers.example.csv", READERS[:3])
    (warning,) = segment_warnings(project)
    assert warning["severity"] == "warning"
    assert warning["message"] == (
        "the issue's audience (topics staff) reaches none of the 3 readers of "
        "subscribers.example.csv: the issue would go to nobody"
    )
    assert position(project, "audience:").endswith(warning["where"])
