"""Tests in Debian's headless Chromium: how they are marked, and skipped where it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

needs_chromium = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(),
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def browser_test(test):
    """Marked ``browser``; skipped, saying why, only where /usr/bin/chromium is missing."""
    return pytest.mark.browser(needs_chromium(test))
