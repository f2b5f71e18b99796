"""Every analytics view, the report and the charts, checked cent for cent against plain Decimal sums."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from curated_data import CENT, bootstrapped_warehouse, half_up, job_summary
from rich.console import Console

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.charts import write_charts
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.loader import load_orders
from ecom_pipeline.warehouse.report import (
    KPI_VIEW,
    VIEW_ORDER,
    Report,
    kpi_table,
    print_report,
    read_report,
    report_markdown,
)
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def loaded(
    fakesnow_emulator: tuple[str, int], s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> Iterator[Settings]:
    """One database and bucket loaded once with the 800 orders, shared by this module's read-only tests."""
    settings, partitions = bootstrapped_warehouse(fakesnow_emulator, s3_emulator, curated, "views")
    load_orders(settings, partitions, "run-views", job_summary(curated))
    yield settings


def _view(settings: Settings, view: str) -> list[dict[str, Any]]:
    with connect(settings.snowflake) as warehouse:
        return warehouse.query_dicts(f"select * from {view}")


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "units": 0, "revenue": Decimal(0), "profit": Decimal(0)}
    )
    for row in rows:
        group = groups[row[key]]
        group["orders"] += 1
        group["units"] += row["quantity"]
        group["revenue"] += row["revenue"]
        group["profit"] += row["profit"]
    return dict(groups)


def test_sales_by_category(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    expected = {
        category: (
            t["orders"],
            t["units"],
            t["revenue"],
            t["profit"],
            half_up(t["profit"] * 100 / t["revenue"]),
        )
        for category, t in _grouped(curated, "category").items()
    }
    actual = {
        row["category"]: (row["orders"], row["units"], row["revenue"], row["profit"], row["margin_pct"])
        for row in _view(loaded, "vw_sales_by_category")
    }
    assert actual == expected
    assert len(actual) > 10


def test_top_customers(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    totals = _grouped(curated, "customer_id")
    names = {row["customer_id"]: row["customer_name"] for row in curated}
    revenues = sorted((t["revenue"] for t in totals.values()), reverse=True)
    expected = {
        customer_id: (names[customer_id], t["orders"], t["revenue"], revenues.index(t["revenue"]) + 1)
        for customer_id, t in totals.items()
    }
    actual = {
        row["customer_id"]: (row["customer_name"], row["orders"], row["revenue"], row["revenue_rank"])
        for row in _view(loaded, "vw_top_customers")
    }
    assert actual == expected


def test_order_status_and_country(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    status = {k: (t["orders"], t["revenue"]) for k, t in _grouped(curated, "order_status").items()}
    assert {r["order_status"]: (r["orders"], r["revenue"]) for r in _view(loaded, "vw_order_status")} == status
    assert set(status) == {"completed", "pending", "cancelled"}
    country = {k: (t["orders"], t["revenue"], t["profit"]) for k, t in _grouped(curated, "country").items()}
    actual = {r["country"]: (r["orders"], r["revenue"], r["profit"]) for r in _view(loaded, "vw_sales_by_country")}
    assert actual == country


def test_daily_revenue_with_7_day_average(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    daily = sorted(_grouped(curated, "order_date_copy").items())
    expected = {}
    for index, (day, totals) in enumerate(daily):
        window = [t["revenue"] for _, t in daily[max(0, index - 6) : index + 1]]
        average = half_up(sum(window, Decimal(0)) / len(window))
        expected[day] = (totals["orders"], totals["revenue"], totals["profit"], average)
    actual = {
        r["order_date"]: (r["orders"], r["revenue"], r["profit"], r["revenue_7d_avg"])
        for r in _view(loaded, "vw_daily_revenue")
    }
    assert actual == expected
    assert len(actual) == 10


def test_kpis(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    revenue = sum((row["revenue"] for row in curated), Decimal(0))
    profit = sum((row["profit"] for row in curated), Decimal(0))
    [kpis] = _view(loaded, "vw_kpis")
    assert kpis == {
        "total_orders": 800,
        "total_revenue": revenue,
        "total_profit": profit,
        "profit_margin_pct": half_up(profit * 100 / revenue),
    }


def test_read_report_and_renderings(loaded: Settings, curated: list[dict[str, Any]]) -> None:
    report = read_report(loaded, top_n=3)
    revenue = sum((row["revenue"] for row in curated), Decimal(0))
    assert report.kpis["total_orders"] == 800
    assert report.kpis["total_revenue"] == revenue
    assert all(isinstance(report.kpis[k], Decimal) for k in ("total_revenue", "total_profit", "profit_margin_pct"))
    assert all(report.kpis[k].as_tuple().exponent == -2 for k in ("total_revenue", "profit_margin_pct"))

    as_json = json.loads(json.dumps(report.kpis_json()))
    assert as_json["total_orders"] == 800
    assert as_json["total_revenue"] == f"{revenue.quantize(CENT)}"
    assert as_json["profit_margin_pct"].count(".") == 1 and len(as_json["profit_margin_pct"].split(".")[1]) == 2

    top = report.views["vw_top_customers"]
    assert [row["revenue_rank"] for row in top] == [1, 2, 3]
    best = max(_grouped(curated, "customer_id").items(), key=lambda item: item[1]["revenue"])
    assert (top[0]["customer_id"], top[0]["revenue"]) == (best[0], best[1]["revenue"])
    assert len(report.views["vw_sales_by_category"]) == 3
    assert len(report.views["vw_daily_revenue"]) == 10  # daily rows are not cut to top_n: they feed a chart
    assert [r["order_date"] for r in report.views["vw_daily_revenue"]] == sorted(
        {row["order_date_copy"] for row in curated}
    )

    # The columns are the views' own, in their order; the types the connector gives (counts are ints).
    assert set(VIEW_ORDER) | {KPI_VIEW} == {view.name for view in ANALYTICS_VIEWS}  # every view is shown
    assert report.columns["vw_top_customers"] == ("revenue_rank", "customer_id", "customer_name", "orders", "revenue")
    assert report.columns["vw_sales_by_category"] == ("category", "orders", "units", "revenue", "profit", "margin_pct")
    categories = report.views["vw_sales_by_category"]
    assert all(type(row["units"]) is int and type(row["margin_pct"]) is Decimal for row in categories)

    console = Console(record=True, width=140)
    print_report(console, report)
    text = console.export_text()
    for label in ("Total Orders", "Total Revenue", "Total Profit", "Profit Margin %", f"{revenue:,.2f}", "margin %"):
        assert label in text
    assert "Sales by category" in text and "Daily revenue" in text

    markdown = report_markdown(report)
    assert "| Total Revenue | " + f"{revenue:,.2f} |" in markdown
    assert "| revenue rank | customer id | customer name | orders | revenue |" in markdown
    assert markdown.count("## ") == 6


def test_an_empty_warehouse_reports_zeros_and_every_views_columns(bootstrapped: Settings) -> None:
    report = read_report(bootstrapped)
    assert report.kpis_json() == {
        "total_orders": 0, "total_revenue": "0.00", "total_profit": "0.00", "profit_margin_pct": "0.00"
    }  # fmt: skip
    assert all(rows == [] for rows in report.views.values())
    assert report.columns["vw_daily_revenue"] == ("order_date", "orders", "revenue", "profit", "revenue_7d_avg")
    assert "| order date | orders | revenue | profit | revenue 7d avg |" in report_markdown(report)


def test_the_kpi_labels_are_one_set_for_the_terminal_the_markdown_and_the_artifact() -> None:
    from flows.reporting import kpi_rows

    kpis = {"total_orders": 3, "total_revenue": Decimal("10.50"), "profit_margin_pct": Decimal("40.00")}
    report = Report(kpis=kpis)
    console = Console(record=True, width=80)
    console.print(kpi_table(report))
    labels = ["Total Orders", "Total Revenue", "Profit Margin %"]
    assert [row["kpi"] for row in kpi_rows(report)] == labels
    assert [row["value"] for row in kpi_rows(report)] == ["3", "10.50", "40.00"]
    terminal = [line for line in console.export_text().splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in terminal] == labels  # the rows under the heading
    assert [line.split(" | ")[0].removeprefix("| ") for line in report_markdown(report).splitlines()[4:7]] == labels


def test_write_charts_makes_png_files(loaded: Settings, tmp_path: Path) -> None:
    report = read_report(loaded)
    paths = write_charts(report, tmp_path / "charts")
    assert [path.name for path in paths] == ["daily_revenue.png", "revenue_by_category.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_empty_report_renders(tmp_path: Path) -> None:
    report = Report(
        kpis={"total_orders": 0, "total_revenue": Decimal("0.00"), "total_profit": Decimal("0.00"),
              "profit_margin_pct": Decimal("0.00")},
        views={"vw_daily_revenue": [], "vw_sales_by_category": []},
    )  # fmt: skip
    assert report.kpis_json() == {
        "total_orders": 0, "total_revenue": "0.00", "total_profit": "0.00", "profit_margin_pct": "0.00"
    }  # fmt: skip
    assert all(path.stat().st_size > 0 for path in write_charts(report, tmp_path))


def test_report_command_prints_one_days_figures(
    loaded: Settings, curated: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ecom_cli.app import app

    day, totals = sorted(_grouped(curated, "order_date_copy").items())[3]
    snowflake = loaded.snowflake
    for name, value in {
        "SNOWFLAKE_HOST": snowflake.host,
        "SNOWFLAKE_PORT": str(snowflake.port),
        "SNOWFLAKE_PROTOCOL": snowflake.protocol,
        "SNOWFLAKE_EMULATOR": "true",
        "SNOWFLAKE_DATABASE": snowflake.database,
        "SNOWFLAKE_SCHEMA": snowflake.schema_name,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["report", "--top", "3", "--run-date", str(day)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"Orders on {day}" in result.output
    assert f"{totals['revenue']:,.2f}" in result.output and "Total Revenue" in result.output

    empty = CliRunner().invoke(app, ["report", "--run-date", "1999-01-01"], terminal_width=200)
    assert "no orders on 1999-01-01" in empty.output
