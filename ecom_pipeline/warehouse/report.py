"""The run report: KPIs and the top rows of each analytics view, for the console (rich) and markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from ecom_pipeline.exceptions import WarehouseError
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.sqlrender import names_from_settings, render

CENTS = Decimal("0.01")
DAILY_DAYS = 90  # the daily view feeds a chart: read the latest 90 days, whatever top_n is

# view -> (columns, order); names are fixed here, values like top_n are bound.
VIEW_QUERIES: dict[str, tuple[tuple[str, ...], str]] = {
    "vw_sales_by_category": (
        ("category", "orders", "units", "revenue", "profit", "margin_pct"),
        "revenue desc, category",
    ),
    "vw_top_customers": (
        ("revenue_rank", "customer_id", "customer_name", "orders", "revenue"),
        "revenue_rank, customer_id",
    ),
    "vw_order_status": (("order_status", "orders", "revenue"), "revenue desc, order_status"),
    "vw_sales_by_country": (("country", "orders", "revenue", "profit"), "revenue desc, country"),
    "vw_daily_revenue": (("order_date", "orders", "revenue", "profit", "revenue_7d_avg"), "order_date desc"),
}
KPI_LABELS: dict[str, str] = {
    "total_orders": "Total Orders",
    "total_revenue": "Total Revenue",
    "total_profit": "Total Profit",
    "profit_margin_pct": "Profit Margin",
}
MONEY_COLUMNS = frozenset({"revenue", "profit", "revenue_7d_avg", "margin_pct"})
# fakesnow hands SUM back as DOUBLE: counts are turned back into ints by name.
COUNT_COLUMNS = frozenset({"orders", "units", "total_orders", "revenue_rank", "customer_id"})


@dataclass(frozen=True)
class Report:
    """KPIs (`total_orders` int, the rest Decimal with 2 places) and each view's top rows (dicts)."""

    kpis: dict[str, Any]
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def kpis_json(self) -> dict[str, Any]:
        """KPIs for JSON: the count as an int, money and margin as strings with two places ("12345.60")."""
        return {key: value if key == "total_orders" else f"{value:.2f}" for key, value in self.kpis.items()}


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Money to Decimal with 2 places, counts to int (the connector may hand back floats or Decimals)."""
    clean = {}
    for key, value in row.items():
        if value is not None and key in COUNT_COLUMNS:
            value = int(value)
        elif value is not None and (key in MONEY_COLUMNS or key.startswith("total_") or key.endswith("_pct")):
            value = Decimal(str(value)).quantize(CENTS)
        elif isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)
        clean[key] = value
    return clean


def read_report(settings: Settings, top_n: int = 10) -> Report:
    """Read `vw_kpis` and the top `top_n` rows of each view (the latest 90 days of `vw_daily_revenue`)."""
    names = names_from_settings(settings.snowflake, settings.storage)
    prefix = render("{{ database }}.{{ schema }}", names)
    with connect(settings.snowflake) as warehouse:
        kpi_rows = warehouse.query_dicts(
            f"select total_orders, total_revenue, total_profit, profit_margin_pct from {prefix}.vw_kpis"
        )
        if len(kpi_rows) != 1:
            raise WarehouseError(f"{prefix}.vw_kpis returned {len(kpi_rows)} rows, expected 1")
        views = {}
        for view, (columns, order) in VIEW_QUERIES.items():
            limit = DAILY_DAYS if view == "vw_daily_revenue" else top_n
            sql = f"select {', '.join(columns)} from {prefix}.{view} order by {order} limit ?"
            rows = [_normalise(row) for row in warehouse.query_dicts(sql, [limit])]
            views[view] = sorted(rows, key=lambda r: r["order_date"]) if view == "vw_daily_revenue" else rows
    return Report(kpis=_normalise(kpi_rows[0]), views=views)


def read_day(settings: Settings, order_date: date) -> dict[str, Any] | None:
    """One day's line of `vw_daily_revenue` (orders, revenue, profit, 7-day average), or None without orders."""
    names = names_from_settings(settings.snowflake, settings.storage)
    prefix = render("{{ database }}.{{ schema }}", names)
    columns = ", ".join(VIEW_QUERIES["vw_daily_revenue"][0])
    with connect(settings.snowflake) as warehouse:
        rows = warehouse.query_dicts(
            f"select {columns} from {prefix}.vw_daily_revenue where order_date = ?", [order_date]
        )
    return _normalise(rows[0]) if rows else None


def day_table(day: dict[str, Any]) -> Table:
    """A one-row table for `read_day`'s result."""
    table = Table(title=f"Orders on {day['order_date']}", title_justify="left")
    columns = VIEW_QUERIES["vw_daily_revenue"][0]
    for column in columns:
        table.add_column(column.replace("_", " "), justify=_justify(day, column))
    table.add_row(*(_cell(column, day.get(column)) for column in columns))
    return table


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "total_orders" or isinstance(value, int):
        return f"{value:,}"
    if key.endswith("_pct"):
        return f"{value:.2f}%"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _title(view: str) -> str:
    return view.removeprefix("vw_").replace("_", " ").capitalize()


def kpi_table(report: Report) -> Table:
    """The KPIs as a two-column rich table."""
    table = Table(title="KPIs", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in KPI_LABELS.items():
        table.add_row(label, _cell(key, report.kpis.get(key)))
    return table


def view_tables(report: Report) -> list[Table]:
    """One rich table per view."""
    tables = []
    for view, rows in report.views.items():
        table = Table(title=_title(view), title_justify="left")
        columns = VIEW_QUERIES[view][0]
        for column in columns:
            table.add_column(column.replace("_", " "), justify="left" if not rows else _justify(rows[0], column))
        for row in rows:
            table.add_row(*(_cell(column, row.get(column)) for column in columns))
        tables.append(table)
    return tables


def _justify(row: dict[str, Any], column: str) -> Any:
    return "right" if isinstance(row.get(column), int | Decimal) else "left"


def print_report(console: Console, report: Report) -> None:
    """Print the KPI table and every view table."""
    console.print(kpi_table(report))
    for table in view_tables(report):
        console.print(table)


def report_markdown(report: Report) -> str:
    """The report as markdown (KPIs, then one table per view), e.g. for a Prefect artifact."""
    lines = ["## KPIs", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {label} | {_cell(key, report.kpis.get(key))} |" for key, label in KPI_LABELS.items()]
    for view, rows in report.views.items():
        columns = VIEW_QUERIES[view][0]
        lines += ["", f"## {_title(view)}", "", "| " + " | ".join(columns) + " |"]
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        lines += ["| " + " | ".join(_cell(c, row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"
