"""In CI a test may not skip for want of a tool the suite needs: it fails instead.

Locally a test skips, saying why, when Debian's chromium, spamassassin, dovecot, openssl or
caddy, or the playwright package, is missing. In CI (``CI=true``) .ci/run has installed them
all, so such a skip means the run did not test what it claims to: the hook below turns it into
a failure.
Any other skip is left alone. conftest.py imports the hook so pytest calls it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator

import pytest

TOOLS = re.compile(r"chromium|spamassassin|dovecot|openssl|playwright|caddy", re.IGNORECASE)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        return report.longrepr[2]
    return str(report.longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and in_ci():
        reason = skip_reason(report)
        if TOOLS.search(reason):
            report.outcome = "failed"
            report.longrepr = (
                f"CI=true, yet this test would skip: {reason.removeprefix('Skipped: ')}. "
                "CI must install every tool the tests need (.ci/run does)."
            )
    return report
