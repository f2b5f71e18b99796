"""Partition dates in a log line: thirty consecutive dates read as one range, and a gap still shows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ecom_pipeline.transform.partitions import describe_partitions

JUNE = [(date(2026, 6, 1) + timedelta(days=offset)).isoformat() for offset in range(30)]


@pytest.mark.parametrize(
    ("days", "described"),
    [
        (JUNE, "2026-06-01..2026-06-30 (30)"),
        (["2026-06-17"], "2026-06-17"),
        (["2026-06-17", "2026-06-16"], "2026-06-16, 2026-06-17"),  # two dates: both, sorted, no range
        (["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-05"], "2026-06-01..2026-06-03, 2026-06-05 (4)"),
        (["2026-06-01", "2026-06-03", "2026-06-05"], "2026-06-01, 2026-06-03, 2026-06-05"),
        (["2026-06-01", "2026-05-31", "2026-05-30", "2026-06-01"], "2026-05-30..2026-06-01 (3)"),
        ([], "none"),
    ],
    ids=["a month", "one", "two", "a gap", "no run", "unsorted across months, repeated", "none"],
)
def test_consecutive_dates_are_one_range_with_the_count(days: list[str], described: str) -> None:
    assert describe_partitions(days) == described


def test_a_value_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(ValueError, match="06/17"):
        describe_partitions(["2026-06-16", "06/17"])
