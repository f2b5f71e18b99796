"""Stage bodies, each run in a fresh process by `bench.measure`: `python -m bench.stages <stage> '<json>'`.

A stage prints one `BENCH_RESULT {...}` line with the rows it handled and the seconds of its own work (process
start-up excluded); the parent adds the process's wall time and peak RSS.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from typing import Any

RESULT_PREFIX = "BENCH_RESULT "


def _settings(params: dict[str, Any]) -> Any:
    """Pipeline settings from the environment, with the stage's API knobs on top."""
    from ecom_pipeline.settings import load_settings

    settings = load_settings(run_date=date.fromisoformat(params["run_date"]))
    api = {key: params[key] for key in ("base_url", "page_size", "concurrency", "rate_limit_per_second")}
    return settings.updated(api=api)


def fetch(params: dict[str, Any]) -> dict[str, Any]:
    """Extract (page, sanitize, validate) every record of the resources, landing nothing.

    With `pages_only`, only the pages are fetched and parsed (the concurrency check: sanitizing and validating
    are the same CPU work at any concurrency).
    """
    from ecom_pipeline.extract import DummyJsonClient, page_records

    settings = _settings(params)
    started, rows = time.monotonic(), 0
    with DummyJsonClient(settings.api) as client:
        for resource in params["resources"]:
            pages = client.page_stream(resource)
            for page in pages:
                pages.count(page)  # parses the page and checks it continues the walk, as the land stage does
                rows += len(page.items) if params.get("pages_only") else sum(1 for _record in page_records(page))
            pages.finish()
    return {"rows": rows, "seconds": time.monotonic() - started}


def ingest(params: dict[str, Any]) -> dict[str, Any]:
    """Fetch and land every resource in the S3 raw zone (what the flow's fetch-and-land tasks do)."""
    from ecom_pipeline.land.ingest import ingest_resource
    from ecom_pipeline.summary import new_run_id

    settings = _settings(params)
    started, rows, run_id = time.monotonic(), 0, new_run_id()
    landed = {}
    for resource in params["resources"]:
        result = ingest_resource(settings, resource, run_id)
        rows += result.records
        landed[resource] = {
            "records": result.records,
            "bytes": result.bytes,
            "parts": len(result.parts),
            "reused_parts": result.reused_parts,
        }
    return {"rows": rows, "seconds": time.monotonic() - started, "landed": landed, "run_id": run_id}


STAGES = {"fetch": fetch, "ingest": ingest}


def main(argv: list[str]) -> None:
    """`python -m bench.stages <stage> '<json params>'`."""
    stage, params = argv[0], json.loads(argv[1])
    result = STAGES[stage](params)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
