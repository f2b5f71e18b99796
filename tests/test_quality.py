"""Data-quality checks: figures, thresholds -> severity, and the one-line messages (pure functions)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from run_results import job_summary, landing_result, load_result

from ecom_pipeline.quality import (
    ORDERS,
    PreviousRun,
    Severity,
    Threshold,
    failure_line,
    landing_checks,
    orders_checks,
    quarantine_share,
    reconciliation,
    row_change,
    thresholds,
)
from ecom_pipeline.settings import QualitySettings

PREVIOUS = PreviousRun("20260616T030000Z-aaaaaa", date(2026, 6, 16), {"users": 200, "carts": 208}, orders_rows=800)
LIMITS = thresholds(QualitySettings())
TRANSFORM = job_summary(rows_read=810, rows_written=800, rows_quarantined=6, duplicates_removed=4,
                        quarantined_by_reason={"unknown_product": 6}, revenue_written="123456.70")  # fmt: skip
WAREHOUSE = load_result(rows_staged=800, revenue_staged="123456.7")


@pytest.mark.parametrize(
    ("figure", "severity"),
    [(None, "passed"), (0.0, "passed"), (0.01, "passed"), (0.010001, "warning"), (0.05, "warning"), (0.06, "failed")],
)
def test_a_figure_above_warn_warns_and_above_fail_fails(figure: float | None, severity: str) -> None:
    assert Threshold(0.01, 0.05).severity(figure) == Severity(severity)


def test_the_defaults_and_their_settings_names() -> None:
    assert {check: (limit.warn, limit.fail) for check, limit in LIMITS.items()} == {
        "quarantine-share": (0.01, 0.05),
        "duplicate-share": (0.01, 0.05),
        "row-change": (0.2, 0.5),
        "reconciliation": (0, 0),
    }
    assert LIMITS["row-change"].as_json() == {
        "warn": 0.2,
        "fail": 0.5,
        "settings": ["ECOM_DQ_ROW_CHANGE_WARN", "ECOM_DQ_ROW_CHANGE_FAIL"],
    }


def test_thresholds_come_from_the_environment_and_inf_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_DQ_ROW_CHANGE_FAIL", "inf")
    monkeypatch.setenv("ECOM_DQ_QUARANTINE_SHARE_WARN", "0.02")
    limits = thresholds(QualitySettings())
    assert math.isinf(limits["row-change"].fail) and limits["row-change"].severity(1e9) is Severity.WARNING
    assert limits["row-change"].as_json()["fail"] is None  # JSON has no infinity
    assert limits["quarantine-share"].warn == 0.02


def test_warn_above_fail_is_refused_with_both_names() -> None:
    with pytest.raises(ValidationError, match=r"duplicate_share_warn \(0.2\) must not be above duplicate_share_fail"):
        QualitySettings(duplicate_share_warn=0.2, duplicate_share_fail=0.1)


def test_quarantine_share_counts_the_reasons() -> None:
    result = quarantine_share("carts", 3, 208, {"products.0.quantity: too small": 3}, LIMITS["quarantine-share"])
    assert result.payload() == {
        "check": "quarantine-share",
        "resource": "carts",
        "severity": "warning",
        "figure": 0.014423,
        "threshold": {
            "warn": 0.01,
            "fail": 0.05,
            "settings": ["ECOM_DQ_QUARANTINE_SHARE_WARN", "ECOM_DQ_QUARANTINE_SHARE_FAIL"],
        },
        "figures": {"quarantined": 3, "received": 208, "reasons": {"products.0.quantity: too small": 3}},
        "message": "quarantine-share carts: 1.44% of 208 records quarantined (3), above the warn threshold 1.00% "
        "(ECOM_DQ_QUARANTINE_SHARE_WARN)",
    }
    assert quarantine_share("carts", 0, 0, {}, LIMITS["quarantine-share"]).severity is Severity.PASSED


def test_row_change_against_the_previous_run() -> None:
    limit = LIMITS["row-change"]
    dropped = row_change("users", 90, PREVIOUS, 200, limit)
    assert (dropped.figure, dropped.severity) == (0.55, Severity.FAILED)
    assert dropped.message == (
        "row-change users: 90 rows vs 200 in run 20260616T030000Z-aaaaaa (55.00% change), above the fail threshold "
        "50.00% (ECOM_DQ_ROW_CHANGE_FAIL)"
    )
    assert dropped.figures == {
        "rows": 90,
        "previous_rows": 200,
        "previous_run_id": "20260616T030000Z-aaaaaa",
        "previous_ingest_date": "2026-06-16",
    }
    grown = row_change("users", 250, PREVIOUS, 200, limit)
    assert (grown.figure, grown.severity) == (0.25, Severity.WARNING)
    first = row_change("users", 208, None, None, limit)
    assert (first.figure, first.severity, first.message) == (
        None,
        Severity.PASSED,
        "row-change users: 208 rows; no previous run to compare",
    )
    assert row_change("users", 5, PREVIOUS, 0, limit).severity is Severity.PASSED


def test_reconciliation_balances_exactly_and_any_difference_fails() -> None:
    balanced = reconciliation(TRANSFORM, WAREHOUSE)  # "123456.7" and "123456.70" are the same Decimal
    assert (balanced.severity, balanced.figure) == (Severity.PASSED, 0.0)
    assert balanced.message == (
        "reconciliation orders: 810 lines read = 800 written + 6 quarantined + 4 duplicates; "
        "warehouse holds 800 rows and 123456.70 revenue, as curated"
    )
    off_by_a_cent = reconciliation(TRANSFORM, load_result(revenue_staged="123456.71"))
    assert (off_by_a_cent.severity, off_by_a_cent.figures["unbalanced"]) == (Severity.FAILED, ["warehouse revenue"])
    assert off_by_a_cent.message.endswith("; any difference fails the run")
    lost_row = reconciliation(TRANSFORM.model_copy(update={"rows_read": 811}), WAREHOUSE)
    assert lost_row.figures["unbalanced"] == ["job"] and lost_row.threshold.as_json() == {"warn": 0, "fail": 0}


def test_landing_and_orders_checks_read_the_run_summary() -> None:
    landed = landing_result("carts", records=205, quarantined=3, quarantine_reasons={"id: missing": 3})
    carts = landing_checks(landed, PREVIOUS, LIMITS)
    assert [(r.check, r.resource, r.severity.value) for r in carts] == [
        ("quarantine-share", "carts", "warning"),
        ("row-change", "carts", "passed"),
    ]
    assert carts[1].figures["previous_rows"] == 208
    orders = orders_checks(TRANSFORM, WAREHOUSE, PREVIOUS, LIMITS)
    assert [(r.check, r.resource, r.figure, r.severity.value) for r in orders] == [
        ("quarantine-share", ORDERS, 0.007407, "passed"),
        ("duplicate-share", ORDERS, 0.004938, "passed"),
        ("row-change", ORDERS, 0.0, "passed"),
        ("reconciliation", ORDERS, 0.0, "passed"),
    ]
    products = landed.model_copy(update={"resource": "products"})
    assert landing_checks(products, PREVIOUS, LIMITS)[1].message.endswith("no previous run to compare")


def test_a_failed_run_is_told_in_one_line() -> None:
    dropped = row_change("users", 90, PREVIOUS, 200, LIMITS["row-change"])
    line = failure_line([dropped])
    assert "\n" not in line
    assert line == f"data-quality check failed: {dropped.message}"
    assert failure_line([dropped, dropped]) == f"{line} (and 1 more failed check(s))"


def test_the_documented_defaults_are_the_settings() -> None:
    repo = Path(__file__).resolve().parents[1]
    defaults = {name: info.default for name, info in QualitySettings.model_fields.items()}
    checks = {"quarantine-share": "quarantine_share", "duplicate-share": "duplicate_share", "row-change": "row_change"}
    table = (repo / "docs" / "reliability.md").read_text(encoding="utf-8")
    for check, name in checks.items():
        [row] = [line for line in table.splitlines() if line.startswith(f"| `{check}` |")]
        warn, fail, settings = [cell.strip() for cell in row.strip("|").split("|")][3:6]
        assert [warn, fail] == [f"{defaults[f'{name}_{level}'] * 100:g} %" for level in ("warn", "fail")]
        assert settings == f"`ECOM_DQ_{name.upper()}`"
    readme = (repo / "README.md").read_text(encoding="utf-8")
    pairs = ", ".join(f"`{defaults[f'{name}_warn']:g}` / `{defaults[f'{name}_fail']:g}`" for name in checks.values())
    assert f"| {pairs} | data-quality thresholds" in readme
