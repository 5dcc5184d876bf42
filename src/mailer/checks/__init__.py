"""Pre-send checks: find every problem before a subscriber does.

Each module checks one concern and exposes ``check(loaded, prepared, *, options)`` returning
:class:`Finding` objects (see :mod:`mailer.checks.base`); this runner only knows the list.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from mailer.checks import accessibility, deliverability, images, links, rendering, size
from mailer.checks.base import SEVERITIES, Check, CheckOptions, Finding, Severity
from mailer.compose.issue import LoadedIssue
from mailer.delivery.prepare import Prepared

__all__ = [
    "CHECKS", "SEVERITIES", "CheckOptions", "Finding", "Severity", "offline_errors", "run_checks",
]

CHECKS: dict[str, Check] = {
    module.CHECK: module.check
    for module in (links, images, size, accessibility, deliverability, rendering)
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
    findings = run_checks(loaded, prepared, offline=True, render=False)
    return [finding for finding in findings if finding.severity == "error"]
