"""`ecom-pipeline automations apply`: the Prefect automations of flows/automations.yaml, on any Prefect API.

A module of its own so that `cli.py` only mounts it; flows/automations.py does the work (imported late: the
CLI's Prefect defaults must be in the environment before anything imports Prefect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecom_pipeline.exceptions import PipelineError

automations_app = typer.Typer(
    help="Prefect automations as code (flows/automations.yaml): alerts on failed runs, data quality, schema drift.",
    no_args_is_help=True,
)


@automations_app.command("apply")
def apply(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", exists=True, dir_okay=False, help="The automations file (default: flows/automations.yaml)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be created or updated; write nothing.")
    ] = False,
) -> None:
    """Create or update, by name, each automation of the file on the Prefect API that PREFECT_API_URL names.

    Alerts go to the notification block the file names (`ecom-alerts`): written from ECOM_FAILURE_WEBHOOK_URL
    (or the ECOM_SECRET_ID secret's `failure_webhook_url`) when set, else one of that name that exists; without
    either, the automations still apply, without an action. Automations the file does not name are left alone;
    a second run reports every automation unchanged.
    """
    from ecom_pipeline.credentials.secret_store import apply_secret, read_secret
    from ecom_pipeline.settings import load_settings
    from flows.automations import AUTOMATIONS_FILE, Outcome, apply_automations, configured_api_url

    try:
        settings = load_settings()
        if settings.secret_id:  # the webhook URL may be kept there (it often carries a token)
            settings = apply_secret(settings, read_secret(settings))
        results = apply_automations(settings, file or AUTOMATIONS_FILE, dry_run=dry_run)
        api_url = configured_api_url()
    except PipelineError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error

    def said(outcome: Outcome) -> str:
        return f"would be {outcome}" if dry_run and outcome in {Outcome.CREATED, Outcome.UPDATED} else str(outcome)

    for result in results:
        suffix = f" (id {result.id})" if result.id else ""
        typer.echo(f"{result.kind} {result.name!r}: {said(result.outcome)}{suffix}")
    automations = [result for result in results if result.kind == "automation"]
    if len(automations) == len(results):
        typer.echo(
            "no notification block: these automations notify no one. Set ECOM_FAILURE_WEBHOOK_URL, or create a "
            "notification block with the file's `notification_block` name, and apply again."
        )
    counted = [outcome for outcome in Outcome if outcome is not Outcome.USED]
    counts = ", ".join(f"{sum(r.outcome is outcome for r in automations)} {said(outcome)}" for outcome in counted)
    prefix = "dry run, nothing written: " if dry_run else ""
    typer.echo(f"{prefix}{len(automations)} automations on {api_url}: {counts}")
