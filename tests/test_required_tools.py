"""In CI a skip for want of chromium, spamassassin, dovecot, openssl or playwright fails the
test; elsewhere it stays a skip, and a skip for any other reason stays one everywhere."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

SUITE = """
import pytest

@pytest.mark.skipif(True, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_in_the_browser():
    pass

def test_on_the_imap_server():
    pytest.skip("Dovecot is not installed (Debian: apt-get install dovecot-core dovecot-imapd)")

@pytest.mark.skipif(True, reason="only on Windows")
def test_on_windows():
    pass

@pytest.mark.xfail(reason="spamassassin scores this too high", strict=False)
def test_a_known_failure():
    assert False

def test_that_runs():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("from required_tools import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makepyfile(test_tools=SUITE)
    return pytester


def test_in_ci_a_missing_tool_fails_the_test(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-rfs")
    # A skip mark acts at setup, so that test errors; pytest.skip in the test fails it.
    result.assert_outcomes(passed=1, errors=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*CI=true, yet this test would skip: Debian's chromium is not installed*",
        "*CI=true, yet this test would skip: Dovecot is not installed*",
        "SKIPPED*only on Windows",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_outside_ci_a_missing_tool_is_a_skip(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
