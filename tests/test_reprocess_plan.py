"""The reprocess plan: the range, which dates may start together, the figures and the change (plain functions)."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import date
from decimal import Decimal

import pytest
from run_results import job_summary, load_result

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.reprocess import (
    DateOrderedLoads,
    DatePlan,
    PartitionTotals,
    combined_stages,
    concurrency_for,
    date_outcome,
    date_range,
    may_share_partitions,
    startable,
)
from ecom_pipeline.settings import load_settings

D1, D2, D3, D4 = (date(2026, 6, day) for day in (14, 15, 16, 17))


def plan(day: date, *partitions: str, unknown: bool = False) -> DatePlan:
    return DatePlan(ingest_date=day, partitions=None if unknown else tuple(partitions))


def test_date_range_includes_both_ends_and_refuses_a_reversed_or_huge_range() -> None:
    assert date_range(D1, D3) == [D1, D2, D3]
    assert date_range(D4, D4) == [D4]
    with pytest.raises(ConfigError, match=r"ends \(2026-06-14\) before it starts \(2026-06-17\)"):
        date_range(D4, D1)
    with pytest.raises(ConfigError, match="at most 366"):
        date_range(date(2025, 1, 1), date(2026, 1, 2))


def test_unknown_partitions_overlap_everything_known_ones_only_when_shared() -> None:
    assert not may_share_partitions(plan(D1, "2026-06-14"), plan(D2, "2026-06-15"))
    assert may_share_partitions(plan(D1, "2026-06-14", "2026-06-15"), plan(D2, "2026-06-15"))
    assert may_share_partitions(plan(D1, "2026-06-14"), plan(D2, unknown=True))
    assert may_share_partitions(plan(D1, unknown=True), plan(D2, unknown=True))


def test_disjoint_dates_start_together_up_to_the_slots() -> None:
    dates = [plan(day, day.isoformat()) for day in (D1, D2, D3)]
    assert startable(dates, [], slots=2) == dates[:2]
    assert startable(dates[2:], dates[:1], slots=2) == dates[2:]
    assert startable(dates[2:], dates[:2], slots=2) == []


def test_a_date_never_overtakes_an_earlier_one_it_overlaps() -> None:
    first = plan(D1, "2026-06-10", "2026-06-11")
    second = plan(D2, "2026-06-11")  # shares 06-11 with the first
    third = plan(D3, "2026-06-12")  # shares nothing
    assert startable([first, second, third], [], slots=3) == [first, third]
    assert startable([second], [first, third], slots=3) == []
    assert startable([second], [third], slots=3) == [second]


def test_a_date_of_unknown_partitions_runs_alone_and_holds_back_the_later_ones() -> None:
    known, unknown, later = plan(D1, "2026-06-14"), plan(D2, unknown=True), plan(D3, "2026-06-16")
    assert startable([known, unknown, later], [], slots=3) == [known]
    assert startable([unknown, later], [known], slots=3) == []
    assert startable([unknown, later], [], slots=3) == [unknown]
    assert startable([later], [unknown], slots=3) == []


def test_scheduled_dates_run_side_by_side_but_never_two_sharing_a_partition() -> None:
    """`startable` driving real threads: the disjoint pair meet at a barrier (so they did run at once, or the barrier
    breaks), and no two dates sharing a partition are ever in flight together."""
    plans = [
        plan(D1, "2026-06-01"),
        plan(D2, "2026-06-02"),  # disjoint from D1: must run beside it
        plan(D3, "2026-06-01", "2026-06-03"),  # shares 06-01 with D1
        plan(D4, "2026-06-03"),  # shares 06-03 with D3
    ]
    side_by_side = threading.Barrier(2, timeout=30)
    in_flight: set[DatePlan] = set()
    guard = threading.Lock()
    overlaps: list[tuple[date, date]] = []

    def work(current: DatePlan) -> None:
        with guard:
            overlaps.extend(
                (current.ingest_date, other.ingest_date) for other in in_flight if may_share_partitions(current, other)
            )
            in_flight.add(current)
        if current.ingest_date in (D1, D2):
            side_by_side.wait()
        with guard:
            in_flight.discard(current)

    waiting, running, finished = list(plans), {}, []
    with ThreadPoolExecutor(max_workers=3) as pool:
        while waiting or running:
            for chosen in startable(waiting, running.values(), slots=3):
                waiting.remove(chosen)
                running[pool.submit(work, chosen)] = chosen
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a broken barrier fails here
                finished.append(running.pop(future).ingest_date)

    assert overlaps == []
    assert sorted(finished) == [D1, D2, D3, D4]
    assert finished.index(D3) > finished.index(D1) and finished.index(D4) > finished.index(D3)


def test_concurrency_is_checked_against_the_settings_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_REPROCESS_MAX_CONCURRENCY", "3")
    settings = load_settings(profile="local")
    assert concurrency_for(settings, 3) == 3
    with pytest.raises(ConfigError, match=r"concurrency 4 is outside 1\.\.3 \(ECOM_REPROCESS_MAX_CONCURRENCY\)"):
        concurrency_for(settings, 4)


def test_figures_add_up_days_exactly_and_the_change_keeps_its_sign() -> None:
    days = {
        D1: {"orders": 2, "revenue": Decimal("10.10"), "profit": Decimal("4.04")},
        D2: {"orders": 1.0, "revenue": 0.2, "profit": "0.08"},  # the connector's types vary
    }
    before = PartitionTotals.of_days(days)
    assert before == PartitionTotals(orders=3, revenue=Decimal("10.30"), profit=Decimal("4.12"))
    after = PartitionTotals(orders=3, revenue=Decimal("10.30"), profit=Decimal("2.06"))
    assert after.minus(before).model_dump(mode="json") == {"orders": 0, "revenue": "0.00", "profit": "-2.06"}
    assert PartitionTotals.of_days({}) == PartitionTotals()


def test_a_date_is_unchanged_only_when_nothing_was_written() -> None:
    job = job_summary(partitions_written=["2026-06-17"], rows_written=3, rows_quarantined=0)
    same = PartitionTotals(orders=3, revenue=Decimal("9.00"), profit=Decimal("3.00"))
    reused_job = job.model_copy(update={"reused": True})
    reused = date_outcome(plan(D4, "2026-06-17"), reused_job, load_result(skipped=True), same, same, ("2026-06-17",))
    rewritten = date_outcome(plan(D4, "2026-06-17"), job, load_result(), same, same, None)
    assert (reused.status, reused.change.model_dump(mode="json")) == (
        "unchanged",
        {"orders": 0, "revenue": "0.00", "profit": "0.00"},
    )
    assert rewritten.status == "reprocessed"
    assert rewritten.locked == "all (partitions unknown before the job)"


def test_combined_stages_add_the_dates_up_like_one_run() -> None:
    first = job_summary(
        rows_read=5,
        rows_written=4,
        rows_quarantined=1,
        duplicates_removed=0,
        revenue_written="10.01",
        profit_written="4.00",
        quarantined_by_reason={"unknown product": 1},
        partitions_written=["2026-06-16"],
    )
    second = job_summary(
        rows_read=3,
        rows_written=3,
        rows_quarantined=0,
        duplicates_removed=2,
        revenue_written="0.99",
        profit_written="0.40",
        quarantined_by_reason={},
        partitions_written=["2026-06-16", "2026-06-17"],
        reused=True,
    )
    first_load = load_result(rows_staged=4, revenue_staged="10.01")
    second_load = load_result(rows_staged=3, revenue_staged="0.99", skipped=True)
    same = PartitionTotals()
    done = [
        date_outcome(plan(D3), first, first_load, same, same, None),
        date_outcome(plan(D4), second, second_load, same, same, None),
    ]
    transform, warehouse = combined_stages(done, "run-9", "reprocess 2026-06-16..2026-06-17")
    assert transform.model_dump(mode="json") == {
        "run_id": "run-9",
        "ingest_date": "reprocess 2026-06-16..2026-06-17",
        "rows_read": 8,
        "rows_written": 7,
        "rows_quarantined": 1,
        "quarantined_by_reason": {"unknown product": 1},
        "duplicates_removed": 2,
        "partitions_written": ["2026-06-16", "2026-06-17"],
        "revenue_written": "11.00",
        "profit_written": "4.40",
        "reused": False,
    }
    assert (warehouse.run_id, warehouse.rows_staged, str(warehouse.revenue_staged)) == ("run-9", 7, "11.00")
    assert (warehouse.files, warehouse.rows_inserted, warehouse.skipped) == (2, 1600, False)


def test_a_load_waits_for_every_earlier_dates_load_and_no_later_one() -> None:
    turns = DateOrderedLoads([D1, D2, D3, D4])
    turns.wait_for_earlier(D1)  # nothing earlier: at once
    passed = threading.Event()
    later = threading.Thread(target=lambda: (turns.wait_for_earlier(D3), passed.set()))
    later.start()
    turns.done(D1)
    assert not passed.wait(0.3)  # D2 has not loaded yet
    turns.done(D2)
    assert passed.wait(30)
    later.join()
    turns.release_all()
    turns.wait_for_earlier(D4)
