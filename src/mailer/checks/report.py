"""The findings of ``mailer check`` for people and for CI.

On a terminal: one table per severity (rich). Piped or in CI logs: one line per finding in the
``file:line:column: severity [check] message. Fix: ...`` shape that editors can jump to.
``--json``: the same findings as a JSON document.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mailer.checks.base import SEVERITIES, Finding
from mailer.errors import InputError, Location, MailerError

_HEADINGS = {"error": "Errors", "warning": "Warnings", "info": "Notes"}
_NOUNS = {
    "error": ("error", "errors"), "warning": ("warning", "warnings"), "info": ("note", "notes"),
}
_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}


def summary(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning, 5 notes``."""
    counts = Counter(finding.severity for finding in findings)
    return ", ".join(
        f"{counts[severity]} {_NOUNS[severity][counts[severity] != 1]}" for severity in SEVERITIES
    )


def where(location: Location | None) -> str:
    """``location`` with its path relative to the current folder when it is inside it."""
    if location is None:
        return "-"
    path = Path(location.path)
    try:
        shown: Path | str = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path
    return str(Location(shown, location.line, location.column))


def write_report(
    findings: Sequence[Finding], issue: Path, *, as_json: bool, stream: TextIO | None = None
) -> None:
    out = stream or sys.stdout
    if as_json:
        out.write(to_json(findings, issue) + "\n")
    elif out.isatty():
        _write_tables(findings, issue, out)
    else:
        _write_lines(findings, issue, out)


def write_unloadable(error: MailerError, issue: Path, stream: TextIO | None = None) -> None:
    """The issue could not be loaded or rendered: the one error that stopped the checks, as
    the JSON report's only finding."""
    location = error.location if isinstance(error, InputError) else Location(issue)
    message = error.reason if isinstance(error, InputError) else str(error)
    finding = Finding("error", "load", message, location, "fix this first; then check again")
    (stream or sys.stdout).write(to_json([finding], issue) + "\n")


def to_json(findings: Sequence[Finding], issue: Path) -> str:
    counts = Counter(finding.severity for finding in findings)
    document = {
        "issue": str(issue),
        "ok": counts["error"] == 0,
        "counts": {severity: counts[severity] for severity in SEVERITIES},
        "findings": [
            {
                "severity": finding.severity,
                "check": finding.check,
                "message": finding.message,
                "where": where(finding.location),
                "location": None if finding.location is None else {
                    "path": str(finding.location.path),
                    "line": finding.location.line,
                    "column": finding.location.column,
                },
                "fix": finding.fix,
            }
            for finding in findings
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _write_lines(findings: Sequence[Finding], issue: Path, out: TextIO) -> None:
    out.write(f"{issue}: {summary(findings)}\n")
    for severity in SEVERITIES:
        group = [finding for finding in findings if finding.severity == severity]
        if not group:
            continue
        out.write(f"\n{_HEADINGS[severity]}:\n")
        for finding in group:
            fix = f" Fix: {finding.fix}" if finding.fix else ""
            out.write(
                f"  {where(finding.location)}: {severity} [{finding.check}] "
                f"{finding.message}.{fix}\n"
            )


def _write_tables(findings: Sequence[Finding], issue: Path, out: TextIO) -> None:
    from rich.console import Console  # only a terminal needs rich; keeps CI runs quick
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False)
    for severity in SEVERITIES:
        group = [finding for finding in findings if finding.severity == severity]
        if not group:
            continue
        table = Table(
            title=f"{_HEADINGS[severity]} ({len(group)})", title_style=_STYLES[severity],
            title_justify="left", expand=True,
        )
        table.add_column("Where", style="cyan", no_wrap=True)
        table.add_column("Check", no_wrap=True)
        table.add_column("Problem", ratio=3, overflow="fold")
        with_fix = any(finding.fix for finding in group)
        if with_fix:
            table.add_column("Fix", ratio=2, overflow="fold")
        for finding in group:
            cells = [where(finding.location), finding.check, finding.message]
            if with_fix:
                cells.append(finding.fix)
            table.add_row(*(Text(cell) for cell in cells))  # Text: brackets are not markup
        console.print(table)
    ready = not any(finding.severity == "error" for finding in findings)
    verdict = "[bold green]ready to send[/]" if ready else "[bold red]not ready to send[/]"
    console.print(f"{issue}: {summary(findings)}: {verdict}")
