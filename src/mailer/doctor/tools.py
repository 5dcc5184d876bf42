"""The programs the rendering checks and the preview screenshots drive: Chromium, through
Playwright. Sending needs neither, so a missing one is a note."""

from __future__ import annotations

import importlib.util

from mailer.doctor.report import Finding
from mailer.preview.browser import INSTALL_HINT, find_chromium

CHROMIUM_FIX = (
    f"install Chromium (Debian, Ubuntu: {INSTALL_HINT}; Windows, macOS: Chromium or Google "
    "Chrome, with its folder on PATH as chromium)"
)


def check() -> list[Finding]:
    findings = []
    path = find_chromium()
    if path is None:
        findings.append(Finding(
            "tools", "note", "Chromium not found: mailer check cannot show the email at phone "
            "and desktop widths (--render), nor preview take screenshots", CHROMIUM_FIX,
        ))
    else:
        findings.append(Finding("tools", "ok", f"Chromium: {path}"))
    if importlib.util.find_spec("playwright") is None:
        findings.append(Finding(
            "tools", "note", "Playwright is not installed: it drives Chromium for the "
            "rendering checks and screenshots", "pip install playwright",
        ))
    else:
        findings.append(Finding("tools", "ok", "Playwright is installed"))
    return findings
