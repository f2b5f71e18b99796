"""`ecom-pipeline slas apply`: the Prefect Cloud SLAs of flows/slas.yaml for the scheduled `aws` deployment.

A module of its own so that `cli.py` only mounts it; flows/slas.py does the work (imported late: the CLI's Prefect
defaults must be in the environment before anything imports Prefect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecom_pipeline.exceptions import PipelineError

slas_app = typer.Typer(
    help="Prefect Cloud SLAs as code (flows/slas.yaml): run duration, a daily run, a fresh warehouse.",
    no_args_is_help=True,
)


@slas_app.command("apply")
def apply(
    file: Annotated[
        Path | None,
        typer.Option("--file", exists=True, dir_okay=False, help="The SLA file (default: flows/slas.yaml)."),
    ] = None,
) -> None:
    """Apply the file's SLAs to its deployment on the Prefect Cloud workspace PREFECT_API_URL names.

    Cloud creates or updates each SLA by name and removes the deployment's SLAs the file no longer names. SLAs are
    a Prefect Cloud feature: on any other Prefect API this prints one `skipped: not Prefect Cloud` line and
    changes nothing. The freshness SLA's asset key is built from SNOWFLAKE_ACCOUNT, _DATABASE and _SCHEMA.
    """
    from ecom_pipeline.settings import load_settings
    from flows.slas import SLAS_FILE, apply_slas

    try:
        applied = apply_slas(load_settings(), file or SLAS_FILE)
    except PipelineError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    if applied.skipped is not None:
        typer.echo(
            f"skipped: {applied.skipped} ({applied.api_url}); SLAs are a Prefect Cloud feature, the automation "
            "'ecom-pipeline no successful run in 26 hours' watches the runs here"
        )
        return
    assert applied.response is not None
    changes = {"created": applied.response.created, "updated": applied.response.updated}
    changes["deleted"] = applied.response.deleted
    counts = ", ".join(f"{len(names)} {outcome}" + (f" ({', '.join(names)})" if names else "")
                       for outcome, names in changes.items())  # fmt: skip
    typer.echo(f"SLAs of {applied.deployment} on {applied.api_url}: {counts}")
