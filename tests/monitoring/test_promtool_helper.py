"""The promtool helper the scrape tests rely on tells a clean scrape from a flawed one."""

from __future__ import annotations

from tests.support.promtool import check_metrics, promtool, run_promtool

CLEAN = """\
# HELP prefstream_pairing_pairs_published_total Pairs written and published.
# TYPE prefstream_pairing_pairs_published_total counter
prefstream_pairing_pairs_published_total 3.0
"""

# A counter without _total: the kind of name `promtool check metrics` warns about.
FLAWED = """\
# HELP prefstream_pairing_pairs_published Pairs written and published.
# TYPE prefstream_pairing_pairs_published counter
prefstream_pairing_pairs_published 3.0
"""


def test_promtool_is_there() -> None:
    result = run_promtool("--version")
    assert result.returncode == 0, result.stderr
    assert "promtool" in result.stdout + result.stderr, promtool()


def test_a_clean_scrape_has_no_problems() -> None:
    assert check_metrics(CLEAN) == []


def test_a_counter_without_total_is_reported() -> None:
    problems = check_metrics(FLAWED)
    assert any("_total" in p for p in problems), problems


def test_an_unparseable_scrape_is_never_called_clean() -> None:
    assert check_metrics("not a metric line {\n") != []
