"""Pre-send checks: find every problem before a subscriber does.

Each module checks one concern and exposes ``check(loaded, prepared, *, options)`` returning
:class:`Finding` objects (see :mod:`mailer.checks.base`); this runner only knows the list.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from mailer.checks import (
    accessibility,
    archive,
    content,
    deliverability,
    images,
    language,
    links,
    outlook,
    rendering,
    report,
    schedule,
    secrets,
    size,
    spam,
    translations,
)
from mailer.checks.base import SEVERITIES, Check, CheckOptions, Finding, Severity
from mailer.checks.editions import compare
from mailer.compose.editions import Editions, load_editions
from mailer.compose.issue import LoadedIssue
from mailer.delivery.prepare import Prepared, prepare
from mailer.errors import ChecksFailed, MailerError

__all__ = [
    "CHECKS", "SEVERITIES", "CheckOptions", "Finding", "Severity", "check_issue",
    "offline_errors", "refuse_on_errors", "run_checks",
]

CHECKS: dict[str, Check] = {
    module.CHECK: module.check
    for module in (
        content, links, images, size, accessibility, language, deliverability, spam, outlook,
        rendering, archive, secrets, schedule, translations,
    )
}


def run_checks(
    loaded: LoadedIssue,
    prepared: Prepared,
    *,
    offline: bool,
    render: bool | None = None,
    options: CheckOptions | None = None,
) -> list[Finding]:
    """All findings, most severe first, in the order of :data:`CHECKS` within a severity.

    ``render`` (headless Chromium) defaults to on for a full check and off with ``offline``,
    which so stays fast enough to run before every send. The checks run side by side: the
    network and the browser are slow, the others take milliseconds.
    """
    chosen = replace(
        options or CheckOptions(), offline=offline, render=not offline if render is None else render
    )
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        runs = [pool.submit(check, loaded, prepared, options=chosen) for check in CHECKS.values()]
        findings = [finding for run in runs for finding in run.result()]
    return sorted(findings, key=lambda finding: SEVERITIES.index(finding.severity))


def offline_errors(loaded: LoadedIssue, prepared: Prepared) -> list[Finding]:
    """The errors the offline checks find; ``mailer send`` refuses to send while there are any
    (unless forced)."""
    findings = run_checks(
        loaded, prepared, offline=True, render=False, options=CheckOptions(errors_only=True)
    )
    return [finding for finding in findings if finding.severity == "error"]


def check_issue(
    issue: Path,
    *,
    settings: Path | None = None,
    offline: bool = False,
    render: bool | None = None,
    options: CheckOptions | None = None,
    as_json: bool = False,
    edition: str | None = None,
) -> None:
    """``mailer check``: load, render and check the issue (every edition of it, or
    ``edition``), and report every finding in one report.

    ChecksFailed when there are errors; the loading error itself when the issue cannot be
    loaded (reported as a finding first when the report is JSON, so CI still gets JSON).
    """
    try:
        editions = load_editions(issue, settings, edition=edition)
        each = [prepare(loaded, real_send=False) for loaded in editions.chosen]
    except MailerError as exc:
        if as_json:
            report.write_unloadable(exc, issue)
        raise
    findings: list[Finding] = []
    for prepared in each:
        found = run_checks(
            prepared.loaded, prepared, offline=offline, render=render, options=options
        )
        if prepared.loaded is not editions.default:
            found += compare(prepared.loaded, editions.default)
            found += translations.stale(prepared.loaded, editions.default)
        findings += _of_edition(found, prepared.loaded, editions, findings)
    findings.sort(key=lambda finding: SEVERITIES.index(finding.severity))
    report.write_report(findings, issue, as_json=as_json)
    errors = sum(1 for finding in findings if finding.severity == "error")
    if errors:
        raise ChecksFailed(f"{errors} error(s) in {issue}: not ready to send")


def _of_edition(
    found: list[Finding], loaded: LoadedIssue, editions: Editions, earlier: list[Finding]
) -> list[Finding]:
    """An edition's findings as one report of several editions shows them: what an earlier
    edition already reported about a shared file (mailer.toml, the default issue) once, and
    a finding that does not point into the edition's own file named with its language."""
    if not editions.several:
        return found
    own: list[Finding] = []
    for finding in found:
        in_own_file = finding.location is not None and finding.location.path == loaded.path
        if in_own_file or loaded is editions.default:
            own.append(finding)
        elif finding not in earlier:
            message = f"{loaded.issue.language} edition: {finding.message}"
            own.append(replace(finding, message=message))
    return own


def refuse_on_errors(prepared: Prepared) -> None:
    """The gate before every send: the offline checks' errors stop it (``--force`` skips)."""
    errors = offline_errors(prepared.loaded, prepared)
    if errors:
        issue = prepared.loaded.path
        report.write_report(errors, issue, as_json=False, stream=sys.stderr)
        raise ChecksFailed(
            f"not sending: the offline checks found {len(errors)} error(s) in {issue} "
            "(fix them, or add --force to send anyway)"
        )
