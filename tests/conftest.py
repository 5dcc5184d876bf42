"""Shared fixtures: a throwaway newsletter project that tests can write issues into, and a
headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import Project, new_project
from required_tools import pytest_runtest_makereport  # noqa: F401  (a hook: CI fails such skips)

from mailer.preview.browser import chromium

# Settings a developer's shell may hold, which would steer a test's send elsewhere.
SETTINGS_VARIABLES = ("MAILER_TRANSPORT", "MAILER_SUBSCRIBERS", "MAILER_LEDGER",
                      "MAILER_SUPPRESSION")


@pytest.fixture(autouse=True)
def settings_only_from_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads its settings from its project's mailer.toml, not the environment."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return new_project(tmp_path / "newsletter")


@pytest.fixture(scope="class")
def browser() -> Iterator:
    """One Chromium for a class; it closes before the next tests start their own."""
    with chromium() as browser:
        yield browser
