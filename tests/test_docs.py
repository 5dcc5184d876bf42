"""What the README tells people to do works: its DKIM recipe makes a key that mailer signs
with and a DNS record that verifies the signature."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import dkim
import pytest

from mailer.audience.subscribers import SampleReader
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]


def readme_block(section: str, language: str) -> str:
    """The first ``language`` code block under the README heading ``section``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", body, re.S).group(1)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_readme_dkim_recipe_signs_and_verifies(project):
    recipe = readme_block("DKIM signing", "sh")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recipe], cwd=project.root, capture_output=True,
        text=True, check=True,
    )
    record = result.stdout.strip()
    assert record.startswith("v=DKIM1; k=rsa; p=") and len(record) > 300
    settings = readme_block("DKIM signing", "toml")
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
