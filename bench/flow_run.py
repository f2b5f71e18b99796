"""The whole flow, local profile, run twice for one date in one fresh process (`python -m bench.flow_run`).

The emulators (moto S3, fakesnow) start once, so the second run sees the first run's raw manifests, job
fingerprint and warehouse, as a second daily run would. The API server is a separate process (like a remote
API). A throw-away flow run first starts Prefect's temporary server, so neither timed run pays for that.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from typing import Any

from bench.stages import RESULT_PREFIX


def main(argv: list[str] | None = None) -> None:
    """Run the flow `--runs` times for `--run-date` and print the seconds of each run."""
    parser = argparse.ArgumentParser(prog="bench.flow_run")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from prefect import flow

    from ecom_local.emulators.local import LocalRuntime
    from ecom_pipeline.settings import load_settings
    from flows.pipeline import PipelineParameters, ecom_pipeline

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Nothing: only starts Prefect's temporary API server before the timed runs."""

    started = time.monotonic()
    warm_up()
    settings = load_settings()
    runs: list[dict[str, Any]] = []
    params = PipelineParameters(run_date=date.fromisoformat(args.run_date), report_dir=tempfile.mkdtemp())
    with LocalRuntime((settings.storage.raw_bucket, settings.storage.curated_bucket), None):
        for _ in range(args.runs):
            run_started = time.monotonic()
            summary = ecom_pipeline(params)
            runs.append(
                {
                    "seconds": time.monotonic() - run_started,
                    "rows": summary.transform.rows_written,
                    "transform_reused": summary.transform.reused,
                    "warehouse": summary.warehouse.model_dump(mode="json", exclude={"partitions"}),
                }
            )
    result = {"runs": runs, "process_seconds": time.monotonic() - started}
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
