"""PNG charts of the report: daily revenue with its 7-day average, and revenue by category."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecom_pipeline.warehouse.report import Report


def pyplot() -> Any:
    """matplotlib's pyplot on its file-only backend, imported on first use.

    About a second to import: the report needs it, the rest of the flow does not (a local run imports it while its
    Spark job runs, flows/warm_up.py).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and workers
    import matplotlib.pyplot as plt

    return plt


def write_charts(report: Report, out_dir: Path) -> list[Path]:
    """Write `daily_revenue.png` and `revenue_by_category.png` into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _daily_revenue(report, out_dir / "daily_revenue.png"),
        _by_category(report, out_dir / "revenue_by_category.png"),
    ]


def _daily_revenue(report: Report, path: Path) -> Path:
    rows = report.views.get("vw_daily_revenue", [])
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 4))
    try:
        days = [row["order_date"] for row in rows]
        # float only for drawing; the report's numbers stay Decimal
        axes.bar(days, [float(row["revenue"]) for row in rows], label="revenue", color="#4c78a8")
        axes.plot(days, [float(row["revenue_7d_avg"]) for row in rows], label="7-day average", color="#f58518")
        axes.set_title("Daily revenue")
        axes.set_ylabel("revenue")
        axes.legend()
        figure.autofmt_xdate()
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path


def _by_category(report: Report, path: Path) -> Path:
    rows = sorted(report.views.get("vw_sales_by_category", []), key=lambda row: row["revenue"])
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 0.4 * max(len(rows), 4) + 1))
    try:
        axes.barh([str(row["category"]) for row in rows], [float(row["revenue"]) for row in rows], color="#54a24b")
        axes.set_title("Revenue by category (top)")
        axes.set_xlabel("revenue")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path
