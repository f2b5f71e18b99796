"""`ecom-pipeline`: run the pipeline, serve the emulators, set up the warehouse, print reports."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from ecom_cli.automations import automations_app
from ecom_cli.console import console, fail
from ecom_cli.process_exit import skip_last_collection
from ecom_cli.reprocess import reprocess_app
from ecom_cli.slas import slas_app
from ecom_local.api.data import DataSource, DirectorySource
from ecom_local.api.synthetic import SyntheticSource
from ecom_local.emulators.running import (
    STATE_FILE,
    check_same_source,
    is_running,
    record_emulators,
    running_emulators,
    source_spec,
)
from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import Profile, Settings, load_settings

# Without PREFECT_API_URL, Prefect starts a temporary API server for the run: on a busy 2-core laptop it can
# need more than its 20 s default to come up. No telemetry leaves an offline run.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}
for _name, _value in PREFECT_DEFAULTS.items():  # before anything imports prefect, which reads settings once
    os.environ.setdefault(_name, _value)

skip_last_collection()

app = typer.Typer(
    name="ecom-pipeline",
    help="E-commerce data pipeline: DummyJSON API -> S3 raw -> Spark/Glue -> S3 curated -> Snowflake -> views.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
emulators_app = typer.Typer(help="Start or stop the local emulators (S3, Snowflake, API) for manual work.")
app.add_typer(emulators_app, name="emulators")
app.add_typer(automations_app, name="automations")  # ecom_cli/automations.py
app.add_typer(slas_app, name="slas")  # ecom_cli/slas.py

# Under the work dir (ECOM_WORK_DIR, default .ecom): `emulators up`, `env` and `down` must see the same settings.
EMULATORS_STATE_FILE = STATE_FILE

ProfileOption = Annotated[
    Profile | None,
    typer.Option("--profile", help="Where to run: local (emulators, default), compose, aws. Env: ECOM_PROFILE."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        exists=True,
        file_okay=False,
        help="Serve this folder of DummyJSON files (users.json, products.json, carts.json) instead of synthetic data.",
    ),
]
SyntheticCartsOption = Annotated[
    int | None,
    typer.Option("--synthetic-carts", min=1, help="Serve N generated carts (seeded, deterministic)."),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the synthetic data generator.")]
DEFAULT_SYNTHETIC_CARTS = 500


def build_source(data_dir: Path | None, synthetic_carts: int | None, seed: int = 42) -> DataSource:
    """The API server's data: a folder of DummyJSON files, or the synthetic generator."""
    if data_dir is not None and synthetic_carts is not None:
        raise typer.BadParameter("use either --data-dir or --synthetic-carts, not both")
    if data_dir is not None:
        return DirectorySource(data_dir)
    return SyntheticSource(carts=synthetic_carts or DEFAULT_SYNTHETIC_CARTS, seed=seed)


class _ConsoleFormatter(logging.Formatter):
    """Log lines without the traceback of a PipelineError: its message says what failed, and `run` ends with it.

    Prefect logs a failed run's exception with its traceback; the run's logs in Prefect's API keep it.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and isinstance(record.exc_info[1], PipelineError):  # a copy: other handlers keep it
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


def _configure_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    console_handler = logging.StreamHandler()
    formatter = logging.Formatter if verbose else _ConsoleFormatter
    console_handler.setFormatter(formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[console_handler])
    # basicConfig does nothing once Prefect has configured the root logger (importing the flow does): our own
    # loggers get the level themselves, and the root's handler, Prefect's or basicConfig's, prints them.
    logging.getLogger("ecom_pipeline").setLevel(level)
    # matplotlib: "generated new fontManager", once per machine, when the first chart builds its font cache.
    for noisy in ("werkzeug", "botocore", "urllib3", "snowflake.connector", "py4j", "fakesnow", "httpx", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


app.add_typer(reprocess_app(_configure_logging))  # `reprocess`, in ecom_cli/reprocess.py


@app.command()
def run(
    profile: ProfileOption = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="Use this source API instead of the embedded server.")
    ] = None,
    data_dir: DataDirOption = None,
    synthetic_carts: SyntheticCartsOption = None,
    seed: SeedOption = 42,
    run_date: Annotated[
        str | None,
        typer.Option("--run-date", metavar="YYYY-MM-DD", help="Ingest date (default: today, UTC)."),
    ] = None,
    page_size: Annotated[int | None, typer.Option("--page-size", min=0, help="Items per API request.")] = None,
    summary_json: Annotated[
        Path | None,
        typer.Option("--summary-json", help="Also write the run summary as JSON here (charts beside)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the whole pipeline once for one date and print a summary.

    With the local profile (the default) it starts the emulators itself and serves synthetic data,
    or the DummyJSON files in --data-dir. Example: ecom-pipeline run --data-dir ../shared/dummyjson/2026-06
    """
    _configure_logging(verbose)
    if profile is not None:
        os.environ["ECOM_PROFILE"] = profile.value
    parsed_date = _parse_date(run_date)
    settings = load_settings()
    if settings.profile is not Profile.LOCAL and (data_dir or synthetic_carts):
        raise fail("--data-dir and --synthetic-carts only apply to the local profile")
    running = running_emulators(settings.work_dir) if settings.profile is Profile.LOCAL else None
    if running is not None:  # they serve the data they started with: refused before anything slow starts
        try:
            check_same_source(running, source_spec(data_dir, synthetic_carts, seed))
        except PipelineError as error:
            raise fail(str(error)) from error
    if api_url or settings.profile is not Profile.LOCAL:
        # An outside source is checked before anything slow starts (Prefect alone takes seconds to import).
        from ecom_pipeline.land.ingest import check_source

        try:
            check_source(settings.updated(api={"base_url": api_url} if api_url else {}), settings.resources)
        except PipelineError as error:
            raise fail(str(error)) from error

    from ecom_pipeline.timings import Spans

    spans = Spans.since_process_start("cli_start")  # where the time goes: `timings` in --summary-json
    parameters = {"run_date": parsed_date, "page_size": page_size, "api_url": api_url, "resources": settings.resources}
    parameters["report_dir"] = str(summary_json.resolve().parent) if summary_json else None  # charts beside the JSON
    started = time.monotonic()
    try:
        if settings.profile is Profile.LOCAL:
            from ecom_local.emulators.run_services import local_services

            source = None if api_url else build_source(data_dir, synthetic_carts, seed)
            requested = source_spec(data_dir, synthetic_carts, seed)  # `emulators up`'s services if they run, else own
            with local_services(settings, source, requested, running, spans) as ready:
                with spans.span("imports"):  # once Prefect's API is chosen: Prefect reads PREFECT_API_URL on import
                    from flows.pipeline import PipelineParameters, ecom_pipeline
                ready.wait_for_prefect()
                with spans.span("flow"), ready.flow_settings():
                    summary = ecom_pipeline(PipelineParameters(**parameters))
        else:
            from flows.pipeline import PipelineParameters, ecom_pipeline

            summary = ecom_pipeline(PipelineParameters(**parameters))
    except PipelineError as error:
        raise fail(str(error)) from error
    from ecom_pipeline.summary import print_summary  # imported by the flow already

    summary.timings = {**spans.as_json(), **summary.timings}
    summary.seconds = round(time.monotonic() - started, 1)
    print_summary(console, summary)
    if summary_json:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n")
        console.print(f"summary written to {summary_json}")


@app.command("serve-api")
def serve_api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    # Also from the environment, for compose's `api` service (ECOM_COMPOSE_DATA_DIR there); empty means unset.
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="ECOM_API_DATA_DIR",
            exists=True,
            file_okay=False,
            help="Serve this folder of DummyJSON files (users.json, products.json, carts.json) instead of synthetic "
            "data.",
        ),
    ] = None,
    synthetic_carts: SyntheticCartsOption = None,
    seed: SeedOption = 42,
) -> None:
    """Serve the DummyJSON-compatible API (/users, /products, /carts) until Ctrl-C."""
    from ecom_local.api.server import serve_forever

    source = build_source(data_dir, synthetic_carts, seed)
    console.print(f"DummyJSON-compatible API on http://{host}:{port} (Ctrl-C stops)")
    serve_forever(source, host, port)


@app.command("serve-snowflake")
def serve_snowflake(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8085,
) -> None:
    """Serve the Snowflake emulator (fakesnow, reading s3:// from AWS_ENDPOINT_URL) until Ctrl-C."""
    from ecom_local.emulators import fakesnow_server

    fakesnow_server.main(["--host", host, "--port", str(port)])


@emulators_app.command("up")
def emulators_up(
    s3_port: Annotated[int, typer.Option("--s3-port", help="S3 emulator port (0 = any free port).")] = 0,
    api_port: Annotated[int, typer.Option("--api-port", help="API server port (0 = any free port).")] = 0,
    snowflake_port: Annotated[int, typer.Option("--snowflake-port", help="Snowflake emulator port (0 = any).")] = 0,
    data_dir: DataDirOption = None,
    synthetic_carts: SyntheticCartsOption = None,
    seed: SeedOption = 42,
    prefect_api: Annotated[
        bool, typer.Option(help="Also keep a Prefect API for `run` and `reprocess`, if none is configured.")
    ] = True,
) -> None:
    """Start S3, Snowflake (set up), the API and a Prefect API for `run`; print `export` lines; run until stopped."""
    from ecom_local.emulators.local import LocalRuntime
    from ecom_local.emulators.prefect_api import kept_prefect_api
    from ecom_pipeline.warehouse.setup_state import set_up_emulator_warehouse

    _configure_logging(False)
    settings = load_settings()
    buckets = (settings.storage.raw_bucket, settings.storage.curated_bucket)
    runtime = LocalRuntime(
        buckets,
        build_source(data_dir, synthetic_carts, seed),
        s3_port=s3_port,
        api_port=api_port,
        snowflake_port=snowflake_port,
        need_java=False,
    )
    state = settings.work_dir / EMULATORS_STATE_FILE
    # Prefect's API first: it takes the longest to come up, and does so while the emulators start.
    with kept_prefect_api(prefect_api) as prefect_api_url, runtime as endpoints:
        env = endpoints.as_env()
        try:  # once, while Prefect's API starts: every run then finds it in place
            set_up_emulator_warehouse(load_settings())
        except PipelineError as error:
            console.print(f"warehouse set-up failed, each run tries again: {error}", highlight=False)
        served = source_spec(data_dir, synthetic_carts or (None if data_dir else DEFAULT_SYNTHETIC_CARTS), seed)
        record_emulators(settings.work_dir, os.getpid(), env, served or {}, prefect_api_url())
        console.print(
            'Emulators are up. In another shell, paste these (or run `eval "$(ecom-pipeline emulators env)"`):\n'
        )
        for name, value in env.items():
            console.print(f"export {name}={value}", highlight=False, soft_wrap=True)
        console.print("\nStop with Ctrl-C here, or `ecom-pipeline emulators down`.")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            state.unlink(missing_ok=True)


def _emulators_state() -> Path:
    """Where `emulators up` records its pid and endpoints."""
    return load_settings().work_dir / EMULATORS_STATE_FILE


@emulators_app.command("env")
def emulators_env() -> None:
    """Print the running emulators' endpoints as `export` lines: `eval "$(ecom-pipeline emulators env)"`."""
    state = _emulators_state()
    recorded = json.loads(state.read_text()) if state.is_file() else None
    if recorded is None or not is_running(recorded["pid"]):
        typer.echo(
            f"error: no running emulators recorded in {state}; start them with `ecom-pipeline emulators up`", err=True
        )
        raise typer.Exit(code=1)
    for name, value in recorded["env"].items():
        typer.echo(f"export {name}={shlex.quote(value)}")


@emulators_app.command("down")
def emulators_down() -> None:
    """Stop the emulators that `emulators up` started."""
    state = _emulators_state()
    if not state.is_file():
        raise fail(f"no running emulators recorded in {state}")
    pid = json.loads(state.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state.unlink(missing_ok=True)
        console.print(f"emulators (pid {pid}) were not running; state cleared")
        return
    for _ in range(100):
        if not state.is_file():
            break
        time.sleep(0.1)
    console.print(f"emulators (pid {pid}) stopped")


@app.command("bootstrap-warehouse")
def bootstrap_warehouse_command() -> None:
    """Create the Snowflake warehouse, database, loader role, integration, stage, tables and views, and grant them.

    Runs as SNOWFLAKE_BOOTSTRAP_ROLE (default ACCOUNTADMIN), connected as SNOWFLAKE_BOOTSTRAP_USER (default
    SNOWFLAKE_USER) with that user's own credentials: the ECOM_SECRET_ID secret, which holds the pipeline user's,
    is read only when no other bootstrap user is set. Grants the loader role (SNOWFLAKE_ROLE) to SNOWFLAKE_USER.
    Prints what changed: a second run prints "nothing changed".
    """
    from ecom_pipeline.credentials.resolve import resolve_credentials
    from ecom_pipeline.warehouse.connection import bootstrap_warehouse

    try:
        # The bootstrap user's own sign-in; the ECOM_SECRET_ID secret only when that user is the pipeline's.
        settings = resolve_credentials(load_settings(), bootstrap=True)
        ran = bootstrap_warehouse(settings)
    except PipelineError as error:  # a name in the settings that is not a valid identifier included
        raise fail(str(error)) from error
    console.print(f"warehouse {settings.snowflake.database}.{settings.snowflake.schema_name} ready: {ran}")


@app.command()
def blocks(
    prefix: Annotated[str, typer.Option(help="Block name prefix.")] = "ecom",
    store_aws_keys: Annotated[
        bool,
        typer.Option(
            "--store-aws-keys",
            help="Also store AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in the AWS credentials "
            "block (default: no keys; runs use the worker's own AWS identity).",
        ),
    ] = False,
) -> None:
    """Create or update the Prefect blocks the aws profile uses (AWS and Snowflake credentials, buckets).

    Values come from the environment (AWS_*, ECOM_*, SNOWFLAKE_*); secrets, the Snowflake private key included,
    are stored as secret fields. Secrets kept in Secrets Manager (ECOM_SECRET_ID) stay there: runs read them.
    AWS keys are stored only with --store-aws-keys: without them, runs use the worker's default AWS credential
    chain (its instance profile or task role), not the keys of the shell that ran this command.
    """
    from ecom_pipeline.credentials.blocks import block_names, upsert_blocks

    settings = load_settings()
    try:
        names = upsert_blocks(settings, prefix=prefix, store_aws_keys=store_aws_keys)
    except PipelineError as error:
        raise fail(str(error)) from error
    console.print("saved blocks: " + ", ".join(names))
    aws_block = block_names(prefix)["aws"]
    if store_aws_keys and settings.storage.aws_access_key_id is not None:
        console.print(f"{aws_block}: stores this shell's AWS keys (--store-aws-keys); every run uses them")
    else:
        not_stored = " (this shell's AWS keys were not stored)" if settings.storage.aws_access_key_id else ""
        console.print(f"{aws_block}: no AWS keys{not_stored}; runs use the worker's default AWS credential chain")


@app.command()
def report(
    top: Annotated[int, typer.Option("--top", min=1, help="Rows per view.")] = 10,
    run_date: Annotated[
        str | None,
        typer.Option("--run-date", metavar="YYYY-MM-DD", help="Also show that day's orders, revenue and profit."),
    ] = None,
) -> None:
    """Print the KPIs and the analytics views from the warehouse (and one day's figures with --run-date)."""
    from ecom_pipeline.credentials.resolve import resolve_credentials
    from ecom_pipeline.warehouse.report import day_table, print_report, read_day, read_report

    day = _parse_date(run_date)
    try:
        settings: Settings = resolve_credentials(load_settings())  # Secrets Manager (ECOM_SECRET_ID), once
        print_report(console, read_report(settings, top_n=top))
        if day is not None:
            figures = read_day(settings, day)
            console.print(day_table(figures) if figures else f"no orders on {day.isoformat()}")
    except PipelineError as error:
        raise fail(str(error)) from error


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as error:
        raise typer.BadParameter(f"--run-date must be YYYY-MM-DD, got {value!r}") from error


def main(argv: list[str] | None = None) -> Any:
    """The `ecom-pipeline` command (and `python -m ecom_cli`): settings that cannot work end in one line."""
    try:
        return app(args=argv if argv is not None else sys.argv[1:])
    except ConfigError as error:
        fail(str(error))
        raise SystemExit(1) from None
