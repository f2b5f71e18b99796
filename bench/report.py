"""Targets (measured / target, PASS or FAIL), the results table, and the machine they were measured on."""

from __future__ import annotations

import os
import platform
from typing import Any

from bench.dev_loop import format_dev_loop

STAGE_ORDER = ("fetch", "ingest", "ingest-rerun", "transform", "transform-duckdb", "flow", "flow-rerun")


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    return [round(value, 2) for value in os.getloadavg()]


def size_label(cart_lines: int) -> str:
    """1000000 -> '1M', 100000 -> '100k'."""
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if cart_lines >= scale and cart_lines % scale == 0:
            return f"{cart_lines // scale}{unit}"
    return str(cart_lines)


def _target(name: str, measured: float | None, op: str, target: float, unit: str) -> dict[str, Any]:
    passed = measured is not None and (measured <= target if op == "<=" else measured >= target)
    if op == "<":
        passed = measured is not None and measured < target
    return {"name": name, "measured": measured, "op": op, "target": target, "unit": unit, "pass": passed}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the stages that ran: the scale issue's at the largest size (defined at 1M), the dev loop's."""
    targets = size_targets(results) if results.get("sizes") else []
    if "dev_loop" in results:
        targets += dev_loop_targets(results["dev_loop"])
    return targets


def size_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The scale issue's targets, at the largest size run."""
    largest = max(results["sizes"].values(), key=lambda size: size["cart_lines"])
    label, stages = size_label(largest["cart_lines"]), largest["stages"]
    targets = []
    spark, duck = stages["transform"]["wall_seconds"], stages["transform-duckdb"]["wall_seconds"]
    targets.append(_target(f"Spark job process / DuckDB process at {label}", round(spark / duck, 2), "<=", 5.0, "x"))
    targets.append(
        _target(
            f"Spark and DuckDB results equal at {label}",
            1.0 if stages["transform"]["results_match_duckdb"] else 0.0,
            ">=",
            1.0,
            "(1 = equal)",
        )
    )
    if "fetch_concurrency" in results:
        fetch = results["fetch_concurrency"]
        targets.append(_target("fetch speed-up, concurrency 8 vs 1, 50 ms API", fetch["speedup"], ">=", 6.0, "x"))
        peak = max(fetch["fetch-c8"]["peak_requests_per_second"], fetch["fetch-c1"]["peak_requests_per_second"])
        targets.append(_target("peak request rate at the API", peak, "<=", fetch["rate_limit_per_second"], "req/s"))
    ingest_rss = stages["ingest"]["peak_rss_mb"]
    # A re-run holds one chunk of raw pages while it checks them: its peak counts too.
    peak = max(ingest_rss, stages.get("ingest-rerun", {}).get("peak_rss_mb", 0.0))
    targets.append(_target(f"ingestion peak RSS at {label} (first run and re-run)", peak, "<=", 400.0, "MB"))
    if "ingest_memory" in results:
        memory = results["ingest_memory"]
        ratio = round(memory["peak_rss_mb"] / ingest_rss, 3)
        name = f"ingestion RSS at {size_label(memory['cart_lines'])} / at {label}"
        targets.append(_target(name, ratio, "<=", 1.25, "x"))
    if "flow" in stages:
        targets.append(_target(f"whole flow at {label} (process)", stages["flow"]["process_seconds"], "<", 180.0, "s"))
        rerun = round(stages["flow-rerun"]["seconds"] / stages["flow"]["seconds"], 3)
        targets.append(_target(f"unchanged re-run / first run at {label}", rerun, "<=", 0.20, "x"))
    return targets


def dev_loop_targets(dev: dict[str, Any]) -> list[dict[str, Any]]:
    """The dev loop's: warm run / Spark job alone, the job ran in every run, and every run computed the same."""
    return [
        _target("dev loop: warm run / Spark job process alone", dev["ratio"], "<=", dev["target_ratio"], "x"),
        _target("dev loop: the Spark job ran in every run", float(dev["spark_ran_in_every_run"]), ">=", 1, "(1 = yes)"),
        _target("dev loop: every run's KPIs and totals equal", float(dev["results_equal"]), ">=", 1.0, "(1 = equal)"),
    ]


def format_report(results: dict[str, Any]) -> str:
    """The results table per size and the dev loop's phases (the stages that ran), then every target as measured /
    target with PASS or FAIL."""
    lines = [f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
             f"{results['machine']['memory_gb']} GB; load average before {results['load_average_before']}, "
             f"after {results['load_average_after']}"]  # fmt: skip
    if results.get("sizes") or "fetch_concurrency" in results or "ingest_memory" in results:
        lines += ["", *_sizes_table(results)]
    if "dev_loop" in results:
        lines += ["", *format_dev_loop(results["dev_loop"])]
    lines += ["", "targets (measured / target):"]
    for target in results["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(
            f"  {verdict}  {target['name']}: {target['measured']} {target['unit']} / "
            f"{target['op']} {target['target']} {target['unit']}"
        )
    return "\n".join(lines)


def _sizes_table(results: dict[str, Any]) -> list[str]:
    header = f"{'size':>6}  {'stage':<17}{'rows':>10}{'seconds':>10}{'rows/s':>11}{'peak RSS MB':>13}"
    lines = [header, "-" * len(header)]
    for label, size in results.get("sizes", {}).items():
        for name in STAGE_ORDER:
            row = size["stages"].get(name)
            if row is None:
                continue
            rate = f"{row['rows_per_second']:,}" if row["rows_per_second"] else "-"
            if row.get("failed"):
                lines.append(f"{label:>6}  {name:<17}FAILED: {row['failed'][:80]}")
                continue
            lines.append(
                f"{label:>6}  {name:<17}{row['rows']:>10,}{row['seconds']:>10.2f}{rate:>11}{row['peak_rss_mb']:>13.0f}"
            )
    if "fetch_concurrency" in results:
        fetch = results["fetch_concurrency"]
        for name in ("fetch-c8", "fetch-c1"):
            row = fetch[name]
            lines.append(
                f"{'':>6}  {name:<17}{row['rows']:>10,}{row['seconds']:>10.2f}{row['rows_per_second']:>11,}"
                f"{row['peak_rss_mb']:>13.0f}"
            )
    if "ingest_memory" in results:
        memory = results["ingest_memory"]
        lines.append(
            f"{size_label(memory['cart_lines']):>6}  {'ingest':<17}{memory['rows']:>10,}{memory['seconds']:>10.2f}"
            f"{memory['rows_per_second']:>11,}{memory['peak_rss_mb']:>13.0f}"
        )
    return lines
