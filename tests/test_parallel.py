""".ci/run spreads the tests over xdist's workers with --dist loadgroup: the tests of one
xdist_group (those sharing an expensive module fixture, such as SpamAssassin's scores) must run
on one worker, or each worker pays for the fixture again. pytest-xdist drops the groups
silently when it and pytest disagree on node ids; this notices."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ("pytester",)


def test_a_group_runs_on_one_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grouped="""
        import pytest

        pytestmark = pytest.mark.xdist_group("shared")

        @pytest.mark.parametrize("n", range(8))
        def test_shares_a_fixture(n):
            pass
        """, test_free="""
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_alone(n):
            pass
        """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=16)
    workers = {match.group(1) for match in re.finditer(
        r"^\[(gw\d)\].*PASSED test_grouped\.py::", result.stdout.str(), re.M)}
    assert len(workers) == 1, result.stdout.str()
