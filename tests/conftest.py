"""Shared fixtures: a throwaway newsletter project that tests can write issues into, and a
headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import Project, new_project

from mailer.preview.browser import chromium


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return new_project(tmp_path / "newsletter")


@pytest.fixture(scope="class")
def browser() -> Iterator:
    """One Chromium for a class; it closes before the next tests start their own."""
    with chromium() as browser:
        yield browser
