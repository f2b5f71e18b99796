"""The run report: KPIs and the top rows of each analytics view, for the console (rich) and markdown.

The views decide what is shown: the report reads their columns, in their order, from the query's cursor, and
takes Python types from the connector (NUMBER with scale 0 -> int, with a scale -> Decimal). It only chooses
how many rows to show and in which order (`VIEW_ORDER`), and how a column is labelled (`column_label`,
`kpi_label`: the one set of labels, used by the terminal, the markdown and the Prefect artifacts).
"""

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

KPI_VIEW = "vw_kpis"
DAILY_VIEW = "vw_daily_revenue"
DAILY_DAYS = 90  # the daily view feeds a chart: read the latest 90 days, whatever top_n is

# The views shown below the KPIs, in this order, each sorted so its top rows come first (the daily view: the
# latest days, shown oldest first). Names are fixed here; values like top_n are bound.
VIEW_ORDER: dict[str, str] = {
    "vw_sales_by_category": "revenue desc, category",
    "vw_top_customers": "revenue_rank, customer_id",
    "vw_order_status": "revenue desc, order_status",
    "vw_sales_by_country": "revenue desc, country",
    DAILY_VIEW: "order_date desc",
}


@dataclass(frozen=True)
class Report:
    """KPIs (`total_orders` int, the rest Decimal with 2 places), each view's top rows (dicts) and its columns.

    `columns` holds each view's column names in the view's order, known even when it returned no rows.
    """

    kpis: dict[str, Any]
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def kpis_json(self) -> dict[str, Any]:
        """KPIs for JSON: counts as ints, money and margin as strings with two places ("12345.60")."""
        return {key: value if isinstance(value, int) else f"{value:.2f}" for key, value in self.kpis.items()}

    def view_columns(self, view: str) -> tuple[str, ...]:
        """The view's columns as it returned them (from its rows when the report was built by hand)."""
        rows = self.views.get(view, [])
        return self.columns.get(view) or (tuple(rows[0]) if rows else ())


def column_label(column: str) -> str:
    """A column's heading: words for underscores, `%` for a `_pct` suffix (`margin_pct` -> `margin %`)."""
    return column.removesuffix("_pct").replace("_", " ") + (" %" if column.endswith("_pct") else "")


def kpi_label(column: str) -> str:
    """A KPI's label, the same in the terminal, the markdown report and the Prefect artifact."""
    return column_label(column).title()


def _prefix(settings: Settings) -> str:
    return render("{{ database }}.{{ schema }}", names_from_settings(settings.snowflake, settings.storage))


def read_report(settings: Settings, top_n: int = 10) -> Report:
    """Read `vw_kpis` and the top `top_n` rows of each view (the latest 90 days of `vw_daily_revenue`)."""
    prefix = _prefix(settings)
    views: dict[str, list[dict[str, Any]]] = {}
    columns: dict[str, tuple[str, ...]] = {}
    with connect(settings.snowflake) as warehouse:
        kpi_rows = warehouse.query_dicts(f"select * from {prefix}.{KPI_VIEW}")
        if len(kpi_rows) != 1:
            raise WarehouseError(f"{prefix}.{KPI_VIEW} returned {len(kpi_rows)} rows, expected 1")
        for view, order in VIEW_ORDER.items():
            limit = DAILY_DAYS if view == DAILY_VIEW else top_n
            sql = f"select * from {prefix}.{view} order by {order} limit ?"
            columns[view], rows = warehouse.query_table(sql, [limit])
            views[view] = sorted(rows, key=lambda r: r["order_date"]) if view == DAILY_VIEW else rows
    return Report(kpis=kpi_rows[0], views=views, columns=columns)


def read_day(settings: Settings, order_date: date) -> dict[str, Any] | None:
    """One day's line of `vw_daily_revenue` (orders, revenue, profit, 7-day average), or None without orders."""
    sql = f"select * from {_prefix(settings)}.{DAILY_VIEW} where order_date = ?"
    with connect(settings.snowflake) as warehouse:
        rows = warehouse.query_dicts(sql, [order_date])
    return rows[0] if rows else None


def day_table(day: dict[str, Any]) -> Table:
    """A one-row table for `read_day`'s result."""
    table = Table(title=f"Orders on {day['order_date']}", title_justify="left")
    for column in day:
        table.add_column(column_label(column), justify=_justify(day, column))
    table.add_row(*(_cell(value) for value in day.values()))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
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
    for key, value in report.kpis.items():
        table.add_row(kpi_label(key), _cell(value))
    return table


def view_tables(report: Report) -> list[Table]:
    """One rich table per view."""
    tables = []
    for view, rows in report.views.items():
        table = Table(title=_title(view), title_justify="left")
        columns = report.view_columns(view)
        for column in columns:
            table.add_column(column_label(column), justify="left" if not rows else _justify(rows[0], column))
        for row in rows:
            table.add_row(*(_cell(row.get(column)) for column in columns))
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
    lines += [f"| {kpi_label(key)} | {_cell(value)} |" for key, value in report.kpis.items()]
    for view, rows in report.views.items():
        columns = report.view_columns(view)
        lines += ["", f"## {_title(view)}", "", "| " + " | ".join(map(column_label, columns)) + " |"]
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"
