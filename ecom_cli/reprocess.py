"""`ecom-pipeline reprocess`: rebuild the curated zone and the warehouse for a range of ingest dates from the raw zone.

A module of its own that `cli.py` only mounts (`reprocess_app(...)`, given the CLI's logging set-up, so the two
commands log alike); flows/reprocess.py does the work, imported late: the CLI's Prefect defaults must be in the
environment before anything imports Prefect.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ecom_cli.console import console, fail
from ecom_pipeline.exceptions import PipelineError, ReprocessError
from ecom_pipeline.settings import Profile, load_settings

if TYPE_CHECKING:  # imported once a reprocess ran: `--help` and a refused option stay quick
    from ecom_pipeline.reprocess import ReprocessSummary


def _date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be YYYY-MM-DD, got {value!r}") from None


def _money(amount: Decimal, signed: bool = False) -> str:
    return f"{amount:+,.2f}" if signed else f"{amount:,.2f}"


def _with_change(after: str, change: Decimal | int, shown: str) -> str:
    """`143`, or `145 (+2)` when it changed."""
    return after if change == 0 else f"{after} ({shown})"


def dates_table(summary: ReprocessSummary) -> Table:
    """One row per ingest date: status, then orders, revenue and profit after (with any change), and the profit's
    change against what the warehouse held for the date's partitions before its load. Fits 80 columns."""
    from ecom_pipeline.reprocess import ReprocessedDate

    table = Table(
        title=f"Reprocess {summary.from_date}..{summary.to_date}",
        title_justify="left",
        caption="change: profit after - profit the warehouse held before, in the date's order_date partitions",
        caption_justify="left",
    )
    table.add_column("ingest date", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("orders", "revenue", "profit", "change"):
        table.add_column(column, justify="right")
    for outcome in summary.dates:
        day = outcome.ingest_date.isoformat()
        if not isinstance(outcome, ReprocessedDate):
            table.add_row(day, outcome.status, *[""] * 4)
            continue
        after, change = outcome.after, outcome.change
        table.add_row(
            day,
            outcome.status,
            _with_change(f"{after.orders:,}", change.orders, f"{change.orders:+,}"),
            _with_change(_money(after.revenue), change.revenue, _money(change.revenue, signed=True)),
            _money(after.profit),
            _money(change.profit, signed=True),
        )
    return table


def date_notes(summary: ReprocessSummary) -> list[str]:
    """Under the table: each date's partitions, what a date without raw data lacks, why a date failed."""
    from ecom_pipeline.reprocess import FailedDate, NoRawData
    from ecom_pipeline.transform.partitions import describe_partitions

    notes = []
    for outcome in summary.dates:
        day = outcome.ingest_date
        if isinstance(outcome, NoRawData):
            notes.append(f"{day}: not landed: {', '.join(outcome.missing)}")
        elif isinstance(outcome, FailedDate):
            notes.append(f"{day}: {outcome.error}")
        else:
            notes.append(f"{day}: partitions {describe_partitions(outcome.partitions)}")
    return notes


def print_reprocess_summary(summary: ReprocessSummary, status: str = "completed") -> None:
    """The dates' table, the KPIs and views after the reprocess, and one closing line."""
    console.print()
    console.print(dates_table(summary))
    for note in date_notes(summary):
        console.print(f"  {note}", highlight=False, soft_wrap=True)
    if summary.report is not None:
        from ecom_pipeline.warehouse.report import print_report

        print_report(console, summary.report)
    colour = "green" if status == "completed" else "red"
    console.print(
        f"[bold {colour}]{status}[/] reprocess {summary.from_date}..{summary.to_date} "
        f"(profile {summary.profile}, cost ratio {summary.cost_ratio}, default status "
        f"{summary.default_order_status!r}, {summary.concurrency} at once) in {summary.seconds:.1f} s"
    )
    for path in summary.report_files or []:
        console.print(f"  chart: {path}")


def reprocess_app(configure_logging: Callable[[bool], None]) -> typer.Typer:
    """The `reprocess` command, to mount on the main app with `app.add_typer(...)` (no group of its own)."""
    app = typer.Typer()

    @app.command("reprocess")
    def reprocess(
        from_date: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD", help="First ingest date.")],
        to_date: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD", help="Last ingest date (included).")],
        cost_ratio: Annotated[
            str | None, typer.Option("--cost-ratio", help="Unit cost as a share of price (default ECOM_COST_RATIO).")
        ] = None,
        default_status: Annotated[
            str | None,
            typer.Option("--default-status", help="Status of carts without one (default ECOM_DEFAULT_ORDER_STATUS)."),
        ] = None,
        concurrency: Annotated[
            int, typer.Option("--concurrency", min=1, help="Dates at once (at most ECOM_REPROCESS_MAX_CONCURRENCY).")
        ] = 2,
        profile: Annotated[
            Profile | None,
            typer.Option("--profile", help="Where to run: local (default), compose, aws. Env: ECOM_PROFILE."),
        ] = None,
        summary_json: Annotated[
            Path | None, typer.Option("--summary-json", help="Also write the summary as JSON here (charts beside).")
        ] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    ) -> None:
        """Transform and load again the ingest dates --from..--to from what the raw zone holds, with no API call.

        For a changed cost ratio or default status, or a fixed job. Dates run --concurrency at a time, never two
        on the same order_date partitions; a date without raw data is reported, not invented. Prints each date's
        orders, revenue and profit, and the change against what the warehouse held. Locally it works on the
        emulators `ecom-pipeline emulators up` keeps running. Details: docs/operations.md
        """
        configure_logging(verbose)
        first, last = _date("--from", from_date), _date("--to", to_date)
        try:
            ratio = Decimal(cost_ratio) if cost_ratio is not None else None
        except InvalidOperation:
            raise typer.BadParameter(f"--cost-ratio must be a number, got {cost_ratio!r}") from None
        if profile is not None:
            os.environ["ECOM_PROFILE"] = profile.value
        settings = load_settings()

        from ecom_local.emulators.running import STATE_FILE, running_emulators

        running = running_emulators(settings.work_dir) if settings.profile is Profile.LOCAL else None
        if settings.profile is Profile.LOCAL and running is None:
            raise fail(
                "nothing to reprocess: in the local profile the raw zone lives in the emulators of "
                f"`ecom-pipeline emulators up`, and none are running (no live {settings.work_dir / STATE_FILE}). "
                "Start them, land dates with `ecom-pipeline run --run-date YYYY-MM-DD`, then reprocess."
            )
        most = settings.reprocess_max_concurrency
        if concurrency > most:
            raise fail(f"--concurrency {concurrency} is above ECOM_REPROCESS_MAX_CONCURRENCY ({most})")
        parameters = {
            "from_date": first,
            "to_date": last,
            "cost_ratio": ratio,
            "default_order_status": default_status,
            "concurrency": concurrency,
            "report_dir": str(summary_json.resolve().parent) if summary_json else None,
        }
        try:
            if settings.profile is Profile.LOCAL:
                from ecom_local.emulators.run_services import local_services

                # The emulators and the Prefect API `emulators up` keeps (as `run` uses them); the flow is imported
                # once its API is chosen: Prefect reads PREFECT_API_URL when it is imported.
                with local_services(settings, None, None, running) as ready:
                    from flows.reprocess import ecom_reprocess

                    params = _reprocess_parameters(parameters)
                    ready.wait_for_prefect()
                    with ready.flow_settings():
                        summary = ecom_reprocess(params)
            else:
                from flows.reprocess import ecom_reprocess

                summary = ecom_reprocess(_reprocess_parameters(parameters))
        except ReprocessError as error:
            print_reprocess_summary(error.summary, status="failed")
            _write_json(summary_json, error.summary)
            raise fail(str(error)) from error
        except PipelineError as error:
            raise fail(str(error)) from error
        print_reprocess_summary(summary)
        _write_json(summary_json, summary)

    return app


def _reprocess_parameters(parameters: dict[str, Any]) -> Any:
    """The flow's parameters, or one line naming each invalid one."""
    from pydantic import ValidationError

    from flows.reprocess import ReprocessParameters

    try:
        return ReprocessParameters(**parameters)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise fail(f"invalid reprocess parameters: {problems}") from None


def _write_json(path: Path | None, summary: ReprocessSummary) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n")
    console.print(f"summary written to {path}")
