"""The `dev-loop` stage: the README's default command as a developer runs it while changing the job or the SQL.

Every run is `uv run ecom-pipeline run` in a fresh process, from a shell with nothing configured (no `ECOM_`, `AWS_`,
`SNOWFLAKE_` or `PREFECT_` variables), with `--summary-json` so the run reports where its time went (`timings`,
ecom_pipeline/timings.py). In order:

1. `cold`: the first run on a fresh clone: no class-data archive, no Prefect database, nothing running.
2. `warm-plain` (skipped with `--dev-loop-quick`): the same command again, still with nothing running.
3. `warm`: the dev loop as the README has it: `ecom-pipeline emulators up` runs in another shell (started here, not
   timed: a developer starts it once; it sets the warehouse up), and the same command runs against it. Its lake
   starts empty, so the run fetches, lands, runs the Spark job and loads in full, as after a change of the job.
4. `spark`: the reference, the Spark job process alone: the launcher's own spark-submit command, on the raw data
   the `warm` run landed, with the same class-data archive, writing to a scratch prefix.

The target is `warm` wall / `spark` wall <= 1.6. Every run's KPIs, transform and warehouse totals must be equal.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bench.measure import REPO_ROOT, Measured, run_measured

TARGET_RATIO = 1.6
RUN_TIMEOUT_SECONDS = 900
UP_TIMEOUT_SECONDS = 180
SCRATCH_PREFIX = "bench-spark-alone"
# A developer's shell on a fresh clone sets none of these.
CONFIGURED = ("ECOM_", "AWS_", "SNOWFLAKE_", "PREFECT_")
# Where the phases come from: the run's own spans (`timings` in its summary), in the order of the table.
STARTUP_PARTS = ("cli_start", "emulators", "prefect_api", "imports")
FLOW_PHASES = ("fetch_and_land", "transform", "warehouse", "reporting")


class DevLoopError(RuntimeError):
    """A run of the dev loop failed; the message holds the end of its output."""


def cli_command(*args: str) -> list[str]:
    """`uv run ecom-pipeline ...` as the README has it (this Python's module when uv is not on PATH)."""
    uv = shutil.which("uv")
    return [uv, "run", "ecom-pipeline", *args] if uv else [sys.executable, "-m", "ecom_cli", *args]


def fresh_shell(home: Path, pycache: bool = False) -> dict[str, str]:
    """The environment of a developer's shell on a fresh clone, its caches under `home`.

    Python runs as the environment has it. Where PYTHONDONTWRITEBYTECODE=1 is set (on this machine) no process writes
    a bytecode cache: each reads the bytecode the README's install compiled (`uv sync --compile-bytecode`) and
    compiles the rest of what it imports (the project's own modules) itself. With `pycache`, Python caches compiled
    modules as it does by default (the first run compiles, later runs read), in a folder of the stage's own
    (PYTHONPYCACHEPREFIX), even where PYTHONDONTWRITEBYTECODE is set: the shared environment's files are left alone.
    """
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates PREFECT_HOME, not its parents
    env = {name: value for name, value in os.environ.items() if not name.startswith(CONFIGURED)}
    env.update(
        ECOM_WORK_DIR=str(home / "work"),  # the clone's .ecom
        ECOM_SPARK_CLASS_DATA_DIR=str(home / "spark-cds"),  # the machine's cache: none on a fresh machine
        PREFECT_HOME=str(home / "prefect"),  # no Prefect database and no profile yet
    )
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    return env


def installed_bytecode() -> bool:
    """Whether the installed packages were compiled at install (`uv sync --compile-bytecode`, as the README has it).

    Prefect's package stands for all: uv compiles every installed package or none.
    """
    spec = importlib.util.find_spec("prefect")  # the CLI's largest import; the bench runs in the project's environment
    if spec is None or spec.origin is None:
        return False
    return any((Path(spec.origin).parent / "__pycache__").glob("__init__.*.pyc"))


def data_args(data_dir: Path | None) -> list[str]:
    """The source options of every command: the README's default (synthetic carts) or a folder of DummyJSON files."""
    return ["--data-dir", str(data_dir.resolve())] if data_dir else []


def timed_run(name: str, env: dict[str, str], out: Path, data_dir: Path | None) -> dict[str, Any]:
    """One `ecom-pipeline run` as a fresh process: wall seconds, its summary, and its phases."""
    summary_path = out / f"{name}.json"
    summary_path.unlink(missing_ok=True)
    launched = time.time()
    measured = run_measured(
        cli_command("run", *data_args(data_dir), "--summary-json", str(summary_path)), env, RUN_TIMEOUT_SECONDS
    )
    if measured.exit_code != 0 or not summary_path.is_file():
        raise DevLoopError(f"{name} run failed with exit code {measured.exit_code}:\n{measured.output_tail}")
    summary = json.loads(summary_path.read_text())
    return {
        "wall_seconds": round(measured.wall_seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
        "phases": phases(summary["timings"], launched, launched + measured.wall_seconds),
        "transform_reused": summary["transform"]["reused"],
        "run_date": summary["run_date"],
        "results": results_of(summary),
    }


def phases(spans: dict[str, list[float]], launched: float, exited: float) -> dict[str, float]:
    """Seconds per phase of one run, from its spans and the launch and exit this process saw.

    `startup` is the critical path from launch to the flow's start; its parts (`cli_start` ... `imports`) overlap, the
    emulators and Prefect's API starting side by side. `bookkeeping` is the rest of the flow (Prefect's records, run
    locks, data-quality checks); `shutdown` runs from the flow's end to the process's exit (stopping the services,
    printing and writing the summary, Python's exit).
    """
    flow_started, flow_ended = spans["flow"]
    found = {
        "startup": flow_started - launched,
        **{name: spans[name][1] - spans[name][0] for name in STARTUP_PARTS if name in spans},
        **{name: spans[name][1] - spans[name][0] for name in FLOW_PHASES},
    }
    found["bookkeeping"] = (flow_ended - flow_started) - sum(found[name] for name in FLOW_PHASES)
    found["shutdown"] = exited - flow_ended
    return {name: round(seconds, 2) for name, seconds in found.items()}


def results_of(summary: dict[str, Any]) -> dict[str, Any]:
    """What a run computed: KPIs, the job's totals, what the warehouse reconciled."""
    transform, warehouse = summary["transform"], summary["warehouse"]
    return {
        "kpis": summary["kpis"],
        "transform": {key: transform[key] for key in ("rows_written", "rows_quarantined", "revenue_written")},
        "warehouse": {key: warehouse[key] for key in ("rows_staged", "revenue_staged")},
    }


@contextmanager
def emulators_up(env: dict[str, str], data_dir: Path | None, log: Path) -> Iterator[dict[str, Any]]:
    """`ecom-pipeline emulators up` in the background, as the README's dev loop has it; yields its state file."""
    state = Path(env["ECOM_WORK_DIR"]) / "emulators.json"
    state.unlink(missing_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen(
            cli_command("emulators", "up", *data_args(data_dir)),
            env=env,
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + UP_TIMEOUT_SECONDS
        while not state.is_file():
            if process.poll() is not None or time.monotonic() > deadline:
                raise DevLoopError(f"emulators up did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield json.loads(state.read_text())
    finally:
        subprocess.run(cli_command("emulators", "down"), env=env, cwd=REPO_ROOT, capture_output=True, timeout=120)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def environment_of(env: dict[str, str]) -> Iterator[None]:
    """This process's environment replaced by `env` for the block."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def spark_alone(env: dict[str, str], emulators: dict[str, Any], run_date: str) -> Measured:
    """The launcher's spark-submit command alone, on the raw data of `run_date` in the running emulators' S3."""
    from ecom_pipeline.settings import load_settings
    from ecom_pipeline.transform import JobRequest, LocalSparkLauncher

    with environment_of({**env, **emulators["env"]}):  # the settings the `warm` run had
        settings = load_settings(run_date=date.fromisoformat(run_date))
        launcher = LocalSparkLauncher(settings)
        command = launcher.command(JobRequest.from_settings(settings, "bench-spark-alone"))
        environment = launcher.environment()
    scratch = f"s3a://{settings.storage.curated_bucket}/{SCRATCH_PREFIX}"
    overrides = {
        "--curated_path": f"{scratch}/orders",
        "--quarantine_path": f"{scratch}/quarantine",
        "--summary_path": f"{scratch}/summary.json",
    }
    for index, item in enumerate(command[:-1]):
        if item in overrides:
            command[index + 1] = overrides[item]
    measured = run_measured(command, environment, RUN_TIMEOUT_SECONDS)
    if measured.exit_code != 0:
        raise DevLoopError(f"the Spark job alone failed with exit code {measured.exit_code}:\n{measured.output_tail}")
    return measured


def bench_dev_loop(
    work: Path, data_dir: Path | None = None, quick: bool = False, pycache: bool = False
) -> dict[str, Any]:
    """The dev loop's runs, their phases, the Spark job alone, and whether every run computed the same."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = fresh_shell(work / "clone", pycache)
    runs: dict[str, Any] = {}
    print("[bench] dev-loop: cold run (fresh clone, nothing running)", flush=True)
    runs["cold"] = timed_run("cold", env, work, data_dir)
    if not quick:
        print("[bench] dev-loop: warm run, nothing running", flush=True)
        runs["warm-plain"] = timed_run("warm-plain", env, work, data_dir)
    print("[bench] dev-loop: `emulators up`, then the warm run and the Spark job alone", flush=True)
    with emulators_up(env, data_dir, work / "emulators.log") as emulators:
        runs["warm"] = timed_run("warm", env, work, data_dir)
        spark = spark_alone(env, emulators, runs["warm"]["run_date"])
    reference = runs["warm"]["results"]
    spark_wall = round(spark.wall_seconds, 2)  # ratios from the seconds the results show, so they agree
    return {
        "data": str(data_dir) if data_dir else "synthetic (500 carts, the README's default)",
        "installed_bytecode": installed_bytecode(),
        "pycache": not env.get("PYTHONDONTWRITEBYTECODE"),  # whether the runs' Python cached what it compiled
        "runs": runs,
        "spark": {"wall_seconds": spark_wall, "peak_rss_mb": round(spark.peak_rss_mb)},
        "ratio": round(runs["warm"]["wall_seconds"] / spark_wall, 2),
        # Not the target: the same command with nothing kept running, which also starts Prefect's API and the
        # emulators (shown so the cost of not running `emulators up` is in the same table).
        "ratio_nothing_running": (
            round(runs["warm-plain"]["wall_seconds"] / spark_wall, 2) if "warm-plain" in runs else None
        ),
        "target_ratio": TARGET_RATIO,
        "spark_ran_in_every_run": not any(run["transform_reused"] for run in runs.values()),
        "results_equal": all(run["results"] == reference for run in runs.values()),
    }


# Rows of the phase table: (phase, label); indented labels are parts of the start-up that overlap.
PHASE_ROWS = (
    ("startup", "start-up, until the flow begins"),
    ("cli_start", "  Python and the CLI"),
    ("emulators", "  emulators (S3, API, Snowflake)"),
    ("prefect_api", "  Prefect API (side by side)"),
    ("imports", "  the flow's imports"),
    ("fetch_and_land", "fetch and land (3 resources)"),
    ("transform", "Spark job, in the run"),
    ("warehouse", "warehouse: set-up, COPY, MERGE, reconcile"),
    ("reporting", "report (views, charts, artifacts)"),
    ("bookkeeping", "Prefect records, locks, quality checks"),
    ("shutdown", "shutdown (services, summary, exit)"),
)


def format_dev_loop(dev: dict[str, Any]) -> list[str]:
    """The phase table of every run, the Spark job alone, and the ratio."""
    names = list(dev["runs"])
    header = f"{'dev loop: ' + dev['data']:<46}" + "".join(f"{name:>12}" for name in names)
    lines = [header, "-" * len(header)]
    for phase, label in PHASE_ROWS:
        cells = [dev["runs"][name]["phases"].get(phase) for name in names]
        if all(cell is None for cell in cells):
            continue
        lines.append(f"{label:<46}" + "".join(f"{'-' if cell is None else f'{cell:.2f}':>12}" for cell in cells))
    lines.append(f"{'wall seconds':<46}" + "".join(f"{dev['runs'][name]['wall_seconds']:>12.2f}" for name in names))
    lines.append(f"{'Spark job process alone (reference)':<46}{dev['spark']['wall_seconds']:>12.2f}")
    lines.append(f"{'warm / Spark job alone':<46}{dev['ratio']:>12.2f}")
    if dev.get("ratio_nothing_running") is not None:
        lines.append(f"{'warm-plain / Spark job alone (not the target)':<46}{dev['ratio_nothing_running']:>12.2f}")
    lines.append(f"Python bytecode: {bytecode_line(dev)}")
    return lines


def bytecode_line(dev: dict[str, Any]) -> str:
    """How the runs' Python got its bytecode: what decides their start-up times most after the Spark job."""
    installed = (
        "installed packages compiled at install"
        if dev["installed_bytecode"]
        else "installed packages NOT compiled (run `uv sync --compile-bytecode`, as the README does)"
    )
    own = "cached by Python as it goes" if dev["pycache"] else "compiled by each process (PYTHONDONTWRITEBYTECODE)"
    return f"{installed}; the rest {own}"
