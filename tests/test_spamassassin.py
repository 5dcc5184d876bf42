"""A clean spam score: the example issues, scored by a real SpamAssassin (Debian's package, local
tests only: no network, no Bayes), get at most 0.0 points, with no rule above 0.1 but
HTML_MESSAGE, the DKIM rules and what a test machine causes (no Received headers, no relays).
That holds for a reader with a first name, for one without, and with the greeting ``mailer
new`` suggests in front of the lead story.

A positive control shows the scoring works: "Dear friend" costs its DEAR_FRIEND points.
``.ci/run`` installs spamassassin (as root) together with chromium.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mailer.audience.subscribers import SampleReader, Subscriber
from mailer.compose.editions import load_editions
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare, prepare_editions

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["2018-03-iom-turkey", "2021-01-project-update"]
SPAMASSASSIN = shutil.which("spamassassin")
# What a message scores on a test machine without being spam: the HTML part (0.001), DKIM
# signatures no DNS can confirm here, and mail that was never relayed.
HARMLESS = re.compile(r"HTML_MESSAGE|DKIM_\w+|ALL_TRUSTED|NO_RELAYS|NO_RECEIVED")

pytestmark = [
    pytest.mark.skipif(
        SPAMASSASSIN is None,
        reason="Debian's spamassassin is not installed (apt-get install spamassassin; .ci/run "
        "installs it as root)",
    ),
    pytest.mark.xdist_group("spamassassin"),  # one worker scores every case, once
]

READERS = {
    "with a first name": SampleReader(),
    "without a first name": Subscriber("reader@example.org"),
}
TURKISH = "2021-01-project-update, tr edition"  # the example's Turkish edition, for tr readers
TURKISH_READERS = {
    "with a first name": Subscriber("ayse@example.org", first_name="Ayşe", language="tr"),
    "without a first name": Subscriber("reader@example.org", language="tr"),
}


@dataclass(frozen=True)
class Score:
    points: float
    rules: dict[str, float]

    def punished(self) -> dict[str, float]:
        """The rules that cost more than 0.1 points and are not harmless."""
        return {
            rule: points for rule, points in self.rules.items()
            if points > 0.1 and not HARMLESS.fullmatch(rule)
        }


def scaffold_greeting() -> str:
    """The first line of the lead story ``mailer new`` writes: its suggested greeting."""
    text = resources.files("mailer.compose").joinpath("scaffold.yaml").read_text("utf-8")
    greeting = yaml.safe_load(text)["lead"]["body"].splitlines()[0]
    assert "{{ subscriber.first_name" in greeting, greeting
    return greeting


def issue_with_greeting(folder: Path, greeting: str) -> Path:
    """A copy of the seed-004 example whose lead story starts with ``greeting``."""
    shutil.copytree(ROOT / "issues", folder / "issues")
    shutil.copy(ROOT / "mailer.toml", folder / "mailer.toml")
    path = folder / "issues" / f"{EXAMPLES[0]}.yaml"
    text = path.read_text(encoding="utf-8")
    first = "    IOM Deputy Director General Laura Thompson travelled"
    assert text.count(first) == 1
    path.write_text(text.replace(first, f"    {greeting}\n\n\n{first}"), encoding="utf-8")
    return path


def spamassassin(messages: list[bytes], home: Path) -> list[Score]:
    """``spamassassin --mbox -L -t`` on ``messages``, in one run (starting SpamAssassin costs
    about 2 s, a message a fraction of that): each one's score and the points of each rule."""
    home.mkdir(parents=True, exist_ok=True)
    prefs = home / "user_prefs"
    prefs.write_text("use_bayes 0\nbayes_auto_learn 0\n", encoding="utf-8")
    given = mailbox.mbox(home / "given.mbox")
    for n, message in enumerate(messages):  # numbered: the order it answers in is its own
        given.add(b"X-Test-Case: %d\r\n" % n + message)
    given.close()
    with (home / "given.mbox").open("rb") as stdin:
        result = subprocess.run(
            [SPAMASSASSIN, "--mbox", "-L", "-t", "-p", str(prefs)], stdin=stdin,
            capture_output=True, timeout=300, check=True,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )
    (home / "scored.mbox").write_bytes(result.stdout)
    scored = mailbox.mbox(home / "scored.mbox")
    outputs = {int(message["X-Test-Case"]): scored.get_string(key)
               for key, message in scored.iteritems()}
    assert sorted(outputs) == list(range(len(messages))), result.stderr.decode()[-2000:]
    return [_score(outputs[n]) for n in range(len(messages))]


def _score(output: str) -> Score:
    status = re.search(r"^X-Spam-Status: .*?score=(-?\d+\.\d+)", output, re.M)
    assert status, output[:2000]
    report = output.split("Content analysis details:", 1)[1]
    rules = {
        match.group(2): float(match.group(1))
        for match in re.finditer(r"^\s*(-?\d+\.\d+)\s+([A-Z][A-Z0-9_]+)\s", report, re.M)
    }
    return Score(float(status.group(1)), rules)


def scores(tmp: Path) -> dict[tuple[str, str], Score]:
    """Every case scored once, by one SpamAssassin run."""
    cases: dict[tuple[str, str], bytes] = {}
    for example in EXAMPLES:
        ready = prepare(load(ROOT / "issues" / f"{example}.yaml"), real_send=False)
        for who, reader in READERS.items():
            cases[example, who] = ready.factory.build(reader).data
    editions = prepare_editions(load_editions(ROOT / "issues" / f"{EXAMPLES[1]}.yaml"),
                                real_send=False)
    for who, reader in TURKISH_READERS.items():
        message = editions.factory.build(reader)
        assert message.content.language == "tr"
        cases[TURKISH, who] = message.data
    greeted = prepare(load(issue_with_greeting(tmp / "greeting", scaffold_greeting())),
                      real_send=False)
    for who, reader in READERS.items():
        cases["mailer new's greeting", who] = greeted.factory.build(reader).data
    dear_friend = 'Dear {{ subscriber.first_name | default("friend") }},'
    control = issue_with_greeting(tmp / "control", dear_friend)
    cases["Dear friend", "without a first name"] = (
        prepare(load(control), real_send=False).factory.build(READERS["without a first name"])
    ).data
    return dict(zip(cases, spamassassin(list(cases.values()), tmp / "home"), strict=True))


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict[tuple[str, str], Score]:
    return scores(tmp_path_factory.mktemp("spamassassin"))


@pytest.mark.parametrize("who", READERS)
@pytest.mark.parametrize("issue", [*EXAMPLES, TURKISH, "mailer new's greeting"])
def test_a_clean_score(scored, issue, who):
    score = scored[issue, who]
    assert score.points <= 0.0, score
    assert score.punished() == {}, score
    assert "HTML_FONT_LOW_CONTRAST" not in score.rules  # the hidden preheader is not a trick


def test_the_scoring_is_real_dear_friend_costs_points(scored):
    score = scored["Dear friend", "without a first name"]
    assert score.rules.get("DEAR_FRIEND", 0) > 2, score
    assert score.points > 2
