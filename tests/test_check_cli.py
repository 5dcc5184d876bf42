"""``mailer check`` as a comms officer and CI run it: exit status, report, JSON."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.checks import Finding, report
from mailer.cli import app
from mailer.errors import Location

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [
    "issues/2018-03-iom-turkey.yaml", "issues/2021-01-project-update.yaml",
    "issues/2021-01-project-update.tr.yaml",  # an edition file is checked alone
]

CLEAN = """
id: cli-test
subject: Clean water for 8,600 people
preheader: How a small grant changed a district.
lead:
  title: Clean water for 8,600 people
  image:
    src: assets/photo.png
    alt: Volunteers unloading jerrycans of water from a truck
  # A realistic story: a photo this size with one sentence is what spam filters call little
  # text for its images (SpamAssassin's HTML_IMAGE_RATIO), which the spam check warns about.
  body: >-
    The district's new pumps run on solar power. Until last spring, families in the three
    villages walked for two hours to reach the nearest well, and in summer the well often ran
    dry. The water committee, elected by the villages and half of its members women, chose
    where the pumps stand and keeps the accounts for their upkeep. The clinic now has water
    every day, and teachers say that fewer children miss school to fetch it. Engineers from
    the municipality trained six young people from the villages to repair the pumps, and the
    spare parts are bought with the small fee each household pays every month. Next year the
    committee wants to bring a pipe to the school and to the clinic's maternity ward.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/clean-water
"""


def check(*args: str):
    return CliRunner().invoke(app, ["check", *args])


def test_a_clean_issue_exits_0_offline(project):
    settings = project.settings.read_text()
    project.settings.write_text(re.sub(r"(?m)^website = .*\n", "", settings))
    result = check(str(project.write_issue(CLEAN)), "--offline")
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output


def test_an_issue_with_an_error_exits_1_and_names_the_line(project):
    path = project.write_issue(CLEAN.replace(
        "alt: Volunteers unloading jerrycans of water from a truck", "alt: DSC_0042.JPG"
    ))
    result = check(str(path), "--offline")
    assert result.exit_code == 1, result.output
    assert "1 error" in result.output
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "DSC_0042" in text
    )
    assert f"issue.yaml:{line}:5: error [images] the alt text of photo.png is a file name" in (
        result.output
    )
    assert "Fix: describe what the image shows" in result.output


def test_an_issue_that_cannot_be_loaded_exits_2_without_a_traceback(project):
    path = project.write_issue("id: broken\nsubject: [unclosed\n")
    result = check(str(path), "--offline")
    assert result.exit_code == 2
    assert "Error: " in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback


def test_json_has_every_finding_and_the_counts(project):
    path = project.write_issue(CLEAN.replace("preheader: How a small grant changed a district.\n",
                                             ""))
    result = check(str(path), "--offline", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    (warning,) = [f for f in report["findings"] if "preheader" in f["message"]]
    assert warning["severity"] == "warning"
    assert warning["check"] == "deliverability"
    assert warning["location"]["line"] == 2  # the subject, where the preheader goes
    assert warning["where"].endswith("issue.yaml:2:1")
    assert warning["fix"]
    assert {f["check"] for f in report["findings"]} >= {"images", "size"}


def test_json_for_an_unloadable_issue_carries_the_load_error(project):
    result = check(str(project.root / "issues" / "missing.yaml"), "--offline", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["findings"][0]["check"] == "load"
    assert report["findings"][0]["message"] == "file not found"


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_examples_pass_offline_with_no_errors(example, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = check(example, "--offline", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["error"] == 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_table_per_severity():
    findings = [
        Finding("error", "links", "[a](b) answers HTTP 404", Location(Path("a.yaml"), 3, 5), "fix"),
        Finding("info", "size", "HTML 1 KB", Location(Path("a.yaml")), ""),
    ]
    out = Terminal()
    report.write_report(findings, Path("a.yaml"), as_json=False, stream=out)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colours off
    assert text.index("Errors (1)") < text.index("Notes (1)")
    assert "[a](b) answers HTTP 404" in text  # brackets are text, not rich markup
    assert "a.yaml:3:5" in text
    assert "1 error, 0 warnings, 1 note: not ready to send" in text


def test_online_every_link_is_fetched_and_failures_are_errors(project):
    """Everything points at a closed port on 127.0.0.1: refused at once, nothing leaves."""
    closed = "https://127.0.0.1:9"
    settings = project.settings.read_text()
    settings = re.sub(r'(?m)^(website|url) = ".*"$', rf'\1 = "{closed}/page"', settings)
    settings = re.sub(
        r'(?m)^unsubscribe_url = ".*"$', f'unsubscribe_url = "{closed}/u?t={{token}}"', settings
    )
    project.settings.write_text(settings)
    path = project.write_issue(CLEAN.replace("https://turkiye.iom.int", closed))
    result = check(str(path), "--no-render", "--timeout", "1", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    refused = [f for f in report["findings"] if "refused the connection" in f["message"]]
    assert len(refused) == 1 + 1 + 7 + 1  # the story, the website, 7 social links, unsubscribe
    assert any("none of the 3 addresses" in f["message"] for f in report["findings"])


POSTMARK_WARNING = (
    "warning [deliverability] the transport sends through Postmark's broadcast message stream"
)


def use_transport(project, dsn: str) -> int:
    """Set ``[send] transport`` in the project's mailer.toml; the line it is on."""
    text = project.settings.read_text().replace("outbox://outbox", dsn)
    project.settings.write_text(text)
    return next(
        n for n, line in enumerate(project.settings.read_text().splitlines(), 1)
        if line.startswith("transport = ")
    )


@pytest.mark.parametrize("dsn", ["postmark://", "postmark://?stream=broadcast"])
def test_a_postmark_broadcast_stream_is_a_warning_at_the_transport_line(project, dsn):
    line = use_transport(project, dsn)
    result = check(str(project.write_issue(CLEAN)), "--offline")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"mailer.toml:{line}: {POSTMARK_WARNING}" in output
    assert "Manage unsubscribes on your own" in output


def test_a_postmark_transport_from_the_environment_is_blamed_on_the_issue(project, monkeypatch):
    monkeypatch.setenv("MAILER_TRANSPORT", "postmark://")
    result = check(str(project.write_issue(CLEAN)), "--offline", "--json")
    (warning,) = [
        f for f in json.loads(result.stdout)["findings"]
        if f["check"] == "deliverability" and "Postmark" in f["message"]
    ]
    assert warning["severity"] == "warning"
    assert warning["where"].endswith("issue.yaml")


@pytest.mark.parametrize("dsn", ["postmark://?stream=outbound", "sendgrid://", "outbox://outbox"])
def test_other_transports_get_no_postmark_warning(project, dsn):
    use_transport(project, dsn)
    result = check(str(project.write_issue(CLEAN)), "--offline")
    assert result.exit_code == 0, result.output
    assert "[deliverability] the transport sends through Postmark" not in result.output


SECRETS = ("MAILER_SMTP_PASSWORD", "MAILER_UNSUBSCRIBE_SECRET")


def test_each_secret_a_send_will_need_is_a_warning_at_the_transport_line(project, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    line = use_transport(project, "smtp://alice@mail.example.org:587")
    issue = str(project.write_issue(CLEAN))
    result = check(issue, "--offline")
    assert result.exit_code == 0, result.output  # a warning: check often runs without them
    output = " ".join(result.output.split())
    through = "a send through smtp://alice@mail.example.org:587 needs it for"
    assert (
        f"mailer.toml:{line}: warning [secrets] MAILER_SMTP_PASSWORD is not set: {through} the "
        "SMTP login as alice"
    ) in output
    assert (
        f"mailer.toml:{line}: warning [secrets] MAILER_UNSUBSCRIBE_SECRET is not set: {through} "
        "signing the readers' unsubscribe links"
    ) in output

    for name in SECRETS:
        monkeypatch.setenv(name, "s" * 40)
    result = check(issue, "--offline")
    assert "[secrets]" not in result.output


def test_the_outbox_needs_no_secret_and_check_says_nothing(project, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    result = check(str(project.write_issue(CLEAN)), "--offline")
    assert "[secrets]" not in result.output
