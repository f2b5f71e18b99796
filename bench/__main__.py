"""`uv run python -m bench --sizes 10k,100k,1M`: run the benchmark, print the table and targets, write JSON.

`--stages` picks what runs: `sizes` (every stage at every size), `fetch-concurrency`, `ingest-memory` (the default:
all three), and `dev-loop` (the README's default command as a developer runs it, bench/dev_loop.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.dev_loop import DevLoopError, bench_dev_loop
from bench.report import evaluate_targets, format_report, load_average, machine, size_label
from bench.run import BenchError, bench_fetch_concurrency, bench_ingest_memory, bench_size

SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")
STAGES = ("sizes", "fetch-concurrency", "ingest-memory", "dev-loop")
DEFAULT_STAGES = "sizes,fetch-concurrency,ingest-memory"


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1M' -> 1000000, '2500' -> 2500."""
    match = SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected a number with an optional k or M, e.g. 100k")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def parse_stages(text: str) -> list[str]:
    """'sizes,dev-loop' -> ['sizes', 'dev-loop'], refusing a name the harness does not know."""
    stages = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in stages if name not in STAGES]
    if unknown or not stages:
        raise argparse.ArgumentTypeError(f"stages {text!r}: choose from {', '.join(STAGES)}")
    return stages


def main(argv: list[str] | None = None) -> int:
    """Run every stage at every size; exit 1 when a stage fails (a FAILed target still exits 0)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10k,100k,1M", help="Cart lines per size, comma-separated (10k,1M,4M).")
    parser.add_argument("--out", type=Path, default=Path("out/bench.json"), help="Where the JSON goes.")
    parser.add_argument("--work-dir", type=Path, default=Path(".ecom/bench"), help="Scratch space for the data.")
    parser.add_argument("--repeat", type=int, default=2, help="Best of N for the cheap stages (fetch, transforms).")
    parser.add_argument("--fetch-pages", type=int, default=200, help="Pages of the concurrency check.")
    parser.add_argument(
        "--memory-factor", type=int, default=4, help="Ingestion memory is also measured at N x the largest size."
    )
    parser.add_argument("--no-flow", action="store_true", help="Skip the whole-flow runs (Prefect, Snowflake).")
    parser.add_argument(
        "--stages", type=parse_stages, default=DEFAULT_STAGES, help=f"Comma-separated, of: {', '.join(STAGES)}."
    )
    parser.add_argument(
        "--dev-loop-data-dir", type=Path, help="dev-loop: serve these DummyJSON files (--data-dir), not 500 carts."
    )
    parser.add_argument(
        "--dev-loop-quick", action="store_true", help="dev-loop: the cold and warm runs only (the CI smoke test)."
    )
    parser.add_argument(
        "--dev-loop-pycache",
        action="store_true",
        help="dev-loop: let Python cache the bytecode it compiles, as it does by default (this machine sets "
        "PYTHONDONTWRITEBYTECODE=1: each process compiles what was not compiled at install).",
    )
    args = parser.parse_args(argv)
    stages = args.stages if isinstance(args.stages, list) else parse_stages(args.stages)
    sizes = sorted({parse_size(text) for text in args.sizes.split(",") if text.strip()})

    started = time.monotonic()
    results: dict = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    results["load_average_before"] = load_average()
    results["sizes"] = {}
    try:
        for cart_lines in sizes if "sizes" in stages else []:
            label = size_label(cart_lines)
            print(f"[bench] size {label}: fetch, ingest, transform (Spark, DuckDB), flow ...", flush=True)
            work = args.work_dir.resolve() / label
            results["sizes"][label] = bench_size(cart_lines, work, args.repeat, not args.no_flow)
        if "fetch-concurrency" in stages:
            print(f"[bench] fetch concurrency check: {args.fetch_pages} pages, 50 ms per request", flush=True)
            results["fetch_concurrency"] = bench_fetch_concurrency(args.fetch_pages, args.work_dir.resolve())
        if "ingest-memory" in stages:
            memory_size = sizes[-1] * args.memory_factor
            print(f"[bench] ingestion memory at {size_label(memory_size)}", flush=True)
            results["ingest_memory"] = bench_ingest_memory(memory_size)
        if "dev-loop" in stages:
            work = args.work_dir.resolve() / "dev-loop"
            quick, pycache = args.dev_loop_quick, args.dev_loop_pycache
            results["dev_loop"] = bench_dev_loop(work, args.dev_loop_data_dir, quick, pycache)
    except (BenchError, DevLoopError) as error:
        print(f"[bench] {error}", file=sys.stderr)
        return 1
    results["load_average_after"] = load_average()
    results["seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = evaluate_targets(results)
    print(format_report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
