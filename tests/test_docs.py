"""What the README and the user guide tell people to do works: the README's first command
previews and sends the example issue, its second is CI's script, and the guide's DKIM recipe
makes a key that mailer signs with and a DNS record that verifies the signature."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dkim
import pytest

from mailer.audience.subscribers import SampleReader
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ("issues", "mailer.toml", "subscribers.example.csv")


def code_block(path: Path, heading: str, language: str) -> str:
    """The first ``language`` code block under the Markdown heading ``heading`` (of any level)
    in ``path``, up to the next heading of that level or above; dedented, as it is when it
    sits in a content tab."""
    text = path.read_text(encoding="utf-8")
    level, _, title = heading.partition(" ")
    body = text.split(f"\n{heading}\n", 1)[1]
    body = re.split(rf"\n#{{1,{len(level)}}} ", body, maxsplit=1)[0]
    block = re.search(rf"^([ \t]*)```{language}\n(.*?)^\1```", body, re.S | re.M)
    assert block, f"no {language} block under {title!r} in {path.name}"
    return textwrap.dedent(block.group(2))


def test_the_readme_second_command_is_what_ci_runs():
    command = code_block(ROOT / "README.md", "## Two commands", "sh")
    after = (ROOT / "README.md").read_text(encoding="utf-8").split(command, 1)[1]
    second = re.search(r"```sh\n(.*?)```", after, re.S).group(1).strip()
    assert second == "bash .ci/run"
    assert (ROOT / ".ci" / "run").is_file()


def test_the_readme_first_command_previews_and_sends_the_example(tmp_path):
    """The command as written, on a copy of the example project; its setup steps (the venv and
    the install) are this test run's own."""
    command = code_block(ROOT / "README.md", "## Two commands", "sh").strip()
    steps = [shlex.split(step) for step in command.split(" && ")]
    assert steps[0][:3] == ["python3", "-m", "venv"] and steps[1][0] == ".venv/bin/pip"
    for name in EXAMPLE:
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    mailer = Path(sys.executable).with_name("mailer")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    for step in steps[2:]:
        assert step[0] == ".venv/bin/mailer", step
        subprocess.run([str(mailer), *step[1:]], cwd=tmp_path, env=env, check=True,
                       capture_output=True, timeout=300)

    out = tmp_path / "out" / "2021-01-project-update"
    for folder in (out, out / "tr"):
        assert {"index.html", "message.txt", "message.eml"} <= {p.name for p in folder.iterdir()}
    subjects = [
        email.message_from_bytes(message.as_bytes(), policy=email.policy.default)["Subject"]
        for message in mailbox.Maildir(tmp_path / "outbox", create=False)
    ]
    # subscribers.example.csv: 11 subscribed readers, 5 of them Turkish; 1 unsubscribed.
    assert len(subjects) == 11
    assert sum(subject.startswith("Proje Güncellemesi") for subject in subjects) == 5


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_guides_dkim_recipe_signs_and_verifies(project):
    guide = ROOT / "docs" / "domain.md"
    recipe = code_block(guide, "### When mailer signs itself", "sh")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recipe], cwd=project.root, capture_output=True,
        text=True, check=True,
    )
    record = result.stdout.strip()
    assert record.startswith("v=DKIM1; k=rsa; p=") and len(record) > 300
    settings = code_block(guide, "### When mailer signs itself", "toml")
    with project.settings.open("a", encoding="utf-8") as file:  # mailer.toml ends in [send]
        file.write("\n" + settings.replace("[send]\n", ""))
    text = project.settings.read_text(encoding="utf-8")
    assert text.count("[send]") == 1 and "dkim_key_file" in text.split("[send]")[1]

    path = project.write_issue("id: signed\nsubject: Signed\nlead:\n  title: A story\n")
    message = prepare(load(path), real_send=False).factory.build(SampleReader()).data
    assert message.startswith(b"DKIM-Signature: ")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mailer._domainkey.iom.int."
        return record.encode("ascii")

    assert dkim.verify(message, dnsfunc=dns)
