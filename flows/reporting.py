"""What a run leaves behind for people: Prefect artifacts on the flow run, charts and a markdown report on disk."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from ecom_pipeline.summary import RunSummary
from ecom_pipeline.warehouse.charts import write_charts
from ecom_pipeline.warehouse.report import Report, kpi_label, report_markdown


def kpi_rows(report: Report) -> list[dict[str, str]]:
    """The KPI table as label/value rows, values exactly as in the JSON summary."""
    return [{"kpi": kpi_label(key), "value": str(value)} for key, value in report.kpis_json().items()]


def reconciliation_rows(summary: RunSummary) -> list[dict[str, str]]:
    """Rows and revenue at each hop: raw cart lines -> curated orders (+ quarantined) -> warehouse.

    A reprocess lands nothing: its carts row is blank.
    """
    transform, warehouse, carts = summary.transform, summary.warehouse, summary.resources.get("carts")
    return [
        {"stage": "raw: carts landed", "rows": str(carts.records) if carts else "", "revenue": ""},
        {"stage": "spark: cart lines read", "rows": str(transform.rows_read), "revenue": ""},
        {
            "stage": "curated: orders written",
            "rows": str(transform.rows_written),
            "revenue": str(transform.revenue_written),
        },
        {"stage": "spark: quarantined", "rows": str(transform.rows_quarantined), "revenue": ""},
        {"stage": "spark: duplicates removed", "rows": str(transform.duplicates_removed), "revenue": ""},
        {
            "stage": "warehouse: orders staged and merged",
            "rows": str(warehouse.rows_staged),
            "revenue": str(warehouse.revenue_staged),
        },
    ]


def quarantine_rows(summary: RunSummary) -> list[dict[str, str]]:
    """Quarantined records by stage and reason (an empty run says so in one row)."""
    rows = [
        {"stage": f"extract: {name}", "reason": reason, "count": str(count)}
        for name, landed in summary.resources.items()
        for reason, count in landed.quarantine_reasons.items()
    ]
    rows += [
        {"stage": "spark job", "reason": reason, "count": str(count)}
        for reason, count in summary.transform.quarantined_by_reason.items()
    ]
    return rows or [{"stage": "all", "reason": "nothing quarantined", "count": "0"}]


def publish_artifacts(report: Report, summary: RunSummary) -> None:
    """KPIs, reconciliation, quarantine counts and the views' top rows, attached to the current flow run."""
    run = f"run {summary.run_id} for {summary.run_date}"
    create_table_artifact(key="ecom-kpis", table=kpi_rows(report), description=f"KPIs after {run}")
    create_table_artifact(
        key="ecom-reconciliation",
        table=reconciliation_rows(summary),
        description=f"Rows and revenue through raw -> curated -> warehouse, {run}",
    )
    create_table_artifact(
        key="ecom-quarantine", table=quarantine_rows(summary), description=f"Quarantined records by reason, {run}"
    )
    create_markdown_artifact(key="ecom-views", markdown=report_markdown(report), description=f"Views after {run}")


def write_report_files(report: Report, out_dir: Path) -> list[Path]:
    """Charts (PNG) and the markdown report, written to `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "report.md"
    markdown.write_text(report_markdown(report))
    return [*write_charts(report, out_dir), markdown]
