"""What ``mailer doctor`` found, in the order a person fixes it, as lines or as JSON.

A doctor finding is about the setup (the environment, the servers, the DNS), not about a line
of an issue, so it has no file location as a check's finding has; and it also says what was
found in order (``ok``), since "SPF covers your server" is what a person going live wants to
read. Each finding is one line with its fix; the report's verdict is whether anything blocks
a real send.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning", "note", "ok"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note", "ok")
# The order a person fixes things in: nothing else works without the secrets, DNS is checked
# for the transport that works, the unsubscribe page needs the secret, tools only help.
Concern = Literal["settings", "secrets", "transport", "dns", "unsubscribe", "archive", "tools"]
CONCERNS: tuple[Concern, ...] = (
    "settings", "secrets", "transport", "dns", "unsubscribe", "archive", "tools",
)
_NOUNS = {
    "error": ("error", "errors"), "warning": ("warning", "warnings"), "note": ("note", "notes"),
    "ok": ("ok", "ok"),
}


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found: ``error`` blocks a real send, ``warning`` should be fixed,
    ``note`` is worth knowing (a check it could not make), ``ok`` is a check that passed."""

    concern: Concern
    severity: Severity
    message: str
    fix: str = ""

    def line(self) -> str:
        """``error    dns          DKIM: ... Fix: ...`` on one line, whatever the texts hold."""
        message = " ".join(self.message.split()).rstrip(".")
        fix = " ".join(self.fix.split())
        text = f"{self.severity:<8} {self.concern:<12} {message}."
        return f"{text} Fix: {fix}" if fix else text


def in_order(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` by concern, each concern's in the order they were found."""
    return sorted(findings, key=lambda finding: CONCERNS.index(finding.concern))


def blocked(findings: Sequence[Finding]) -> bool:
    """Whether anything found blocks a real send."""
    return any(finding.severity == "error" for finding in findings)


def summary(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning, 0 notes, 9 ok``."""
    counts = Counter(finding.severity for finding in findings)
    return ", ".join(
        f"{counts[severity]} {_NOUNS[severity][counts[severity] != 1]}" for severity in SEVERITIES
    )


def as_lines(findings: Sequence[Finding], settings: Path, offline: bool) -> list[str]:
    """The report for people: a heading, one line per finding, the verdict."""
    scope = " (offline: secrets and local files only)" if offline else ""
    verdict = (
        "a real send is blocked: fix the errors from the top down, then run mailer doctor again"
        if blocked(findings) else "nothing blocks a real send"
    )
    return [
        f"mailer doctor: {settings}{scope}",
        *(finding.line() for finding in in_order(findings)),
        f"{summary(findings)}: {verdict}.",
    ]


def as_json(findings: Sequence[Finding], settings: Path, offline: bool) -> str:
    """The report as one JSON document, findings in the same order as the lines."""
    counts = Counter(finding.severity for finding in findings)
    document = {
        "settings": str(settings),
        "offline": offline,
        "ok": not blocked(findings),
        "counts": {severity: counts[severity] for severity in SEVERITIES},
        "findings": [asdict(finding) for finding in in_order(findings)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
