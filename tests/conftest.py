"""Shared fixtures: a throwaway newsletter project that tests can write issues into, and a
headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws import local_ses_url  # noqa: F401  (a fixture: moto's SES server, started once)
from projects import Project, new_project
from required_tools import pytest_runtest_makereport  # noqa: F401  (a hook: CI fails such skips)

from mailer.preview.browser import chromium

# Settings a developer's shell may hold, which would steer a test's send elsewhere.
SETTINGS_VARIABLES = ("MAILER_TRANSPORT", "MAILER_SUBSCRIBERS", "MAILER_LEDGER",
                      "MAILER_SUPPRESSION")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Across xdist's workers the slow tests are handed out first, so no worker starts one at
    the end while the others have finished."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
