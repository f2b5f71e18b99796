"""The job itself: `run(spark, args)` reads, chains the transforms and writes; `main()` wraps it for Glue and
spark-submit (arguments, session, exit codes). Tests call the same `run` on their own session.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from spark_jobs.orders.args import JobArgs, parse_args
from spark_jobs.orders.dedupe import filter_latest_records, latest_copies, with_duplicate_flag
from spark_jobs.orders.errors import (
    CONFIG_ERROR_MARKER,
    DATA_INTEGRITY_ERROR_MARKER,
    EXIT_CONFIG_ERROR,
    EXIT_DATA_INTEGRITY_ERROR,
    JobConfigError,
    JobDataIntegrityError,
)
from spark_jobs.orders.io import read_manifest, read_parts, write_curated, write_quarantine, write_text
from spark_jobs.orders.outcome import outcome_metrics, summarize
from spark_jobs.orders.schema import READ_SCHEMAS
from spark_jobs.orders.transforms import (
    explode_cart_lines,
    filter_curated,
    filter_quarantined,
    with_customer_details,
    with_order_amounts,
    with_order_attributes,
    with_order_date,
    with_order_id,
    with_product_details,
    with_quarantine_reason,
    with_run_metadata,
)

try:  # Only inside Glue (or its container image): the Scala side is not available elsewhere.
    from awsglue.context import GlueContext
    from awsglue.job import Job
except ImportError:
    GlueContext = Job = None

LOG = logging.getLogger("orders_job")


def prepare_lines(carts: DataFrame, args: JobArgs) -> DataFrame:
    """The narrow cart lines with their order date: what `run` counts as read and sorts before the joins."""
    return carts.transform(explode_cart_lines).transform(with_order_date(args.ingest_date))


def classify_lines(
    lines: DataFrame,
    copies: DataFrame | None,
    products: DataFrame,
    users: DataFrame,
    args: JobArgs,
    ingested_at: datetime,
) -> DataFrame:
    """The prepared lines with every curated column, is_duplicate and the quarantine reason.

    `copies` is dedupe.latest_copies of the carts, or None when the landing proved the cart ids unique; products
    and users are already one record per id (dedupe.filter_latest_records).
    """
    return (
        lines.transform(with_duplicate_flag(copies))
        .transform(with_order_id)
        .transform(with_product_details(products))
        .transform(with_customer_details(users))
        .transform(with_order_amounts(args.cost_ratio))
        .transform(with_order_attributes(args.default_order_status))
        .transform(with_run_metadata(ingested_at, args.run_id))
        .transform(with_quarantine_reason)
    )


def run(spark: SparkSession, args: JobArgs, ingested_at: datetime | None = None) -> dict[str, Any]:
    """Turn the ingest date's raw zone into curated orders, quarantine and the summary; return the summary.

    Raises:
        JobConfigError: a manifest is missing or unreadable.
        JobDataIntegrityError: the lines read are not all written, quarantined or counted as duplicates.
    """
    ingested_at = ingested_at or datetime.now(timezone.utc).replace(microsecond=0)  # noqa: UP017 - Python 3.10
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")  # replace only this run's dates
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # Timestamps (ingested_at) as INT64 annotated TIMESTAMP(MICROS), Parquet's own timestamp type, not the legacy
    # INT96 that Spark writes by default (docs/architecture.md, "Curated zone": how Snowflake's COPY reads them).
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    if args.shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    LOG.info("run %s: ingest_date=%s raw=%s", args.run_id, args.ingest_date, args.raw_path)

    # Repeated records are searched for (a scan of the cart ids before the main pass, a window over products and
    # users) unless the landing proved there are none: ids strictly increasing in landing order.
    frames, unique = {}, {}
    for resource, schema in READ_SCHEMAS.items():
        manifest = read_manifest(spark, args.raw_path, resource, args.ingest_date)
        frames[resource] = read_parts(spark, manifest["part_paths"], schema)
        unique[resource] = manifest.get("ids_strictly_increasing") is True
    proven = ", ".join(resource for resource, is_unique in unique.items() if is_unique) or "none"
    LOG.info("ids proven unique by the landing (no duplicate search): %s", proven)
    copies = None if unique["carts"] else latest_copies(frames["carts"])
    products = frames["products"].transform(filter_latest_records(unique["products"]))  # small: broadcast
    users = frames["users"].transform(filter_latest_records(unique["users"]))

    def classified(lines: DataFrame) -> DataFrame:
        return classify_lines(lines, copies, products, users, args, ingested_at)

    # One pass over the carts: parse, explode, classify and write, nothing cached. The narrow lines are sorted
    # by order_date before the joins, so the partitioned write finds its rows in order and sorts nothing wide.
    lines = prepare_lines(frames["carts"], args).sortWithinPartitions("order_date")
    # Observed while the files are written: lines read (before the joins, so the balance check catches a join
    # fan-out or a lost row) and the outcome of every line.
    read, outcome = Observation("orders_job_read"), Observation("orders_job_outcome")
    observed = classified(lines.observe(read, F.count(F.lit(1)).alias("rows"))).observe(outcome, *outcome_metrics())
    write_curated(observed.transform(filter_curated), args.curated_path)
    summary = summarize(outcome.get, args, int(read.get["rows"]))
    LOG.info("wrote %d curated orders to %s", summary["rows_written"], args.curated_path)
    if summary["rows_quarantined"]:  # a second pass, without the observations (they are taken once)
        quarantined = classified(lines).transform(filter_quarantined)
    else:  # an empty folder with the schema, without a second pass
        quarantined = observed.transform(filter_quarantined).limit(0)
    write_quarantine(quarantined, args.quarantine_path, args.ingest_date)
    write_text(spark, args.summary_path, json.dumps(summary, indent=2))
    LOG.info("summary written to %s", args.summary_path)  # the launcher reads it there and reports its figures
    return summary


def build_session(args: JobArgs) -> tuple[SparkSession, Any]:
    """(SparkSession, Glue Job or None). Glue objects only where awsglue is importable."""
    if GlueContext is not None:
        glue_context = GlueContext(SparkContext.getOrCreate())
        job = Job(glue_context)
        job.init(args.job_name, {"JOB_NAME": args.job_name})
        return glue_context.spark_session, job
    spark = SparkSession.builder.appName(args.job_name).getOrCreate()  # spark-submit passes master and confs
    spark.sparkContext.setLogLevel("WARN")  # Spark's INFO lines (plans, schemas) drown the job's own lines
    return spark, None


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entrypoint: 0, or exit 2 (configuration) or 3 (data integrity) with one line; 1 on a crash."""
    logging.basicConfig(level=logging.INFO, format="orders_job %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.WARNING)  # "Closing down clientserver connection" at every exit
    try:
        args = parse_args(sys.argv if argv is None else argv)
        spark, glue_job = build_session(args)
        run(spark, args)
        if glue_job is not None:
            glue_job.commit()
    except JobConfigError as error:
        return _fail(EXIT_CONFIG_ERROR, CONFIG_ERROR_MARKER, error)
    except JobDataIntegrityError as error:
        return _fail(EXIT_DATA_INTEGRITY_ERROR, DATA_INTEGRITY_ERROR_MARKER, error)
    return 0


def _fail(exit_code: int, marker: str, error: Exception) -> int:
    """Print the one-line verdict and return the exit code; on Glue, raise it (Glue's ErrorMessage is its text)."""
    message = f"{marker}{error}"
    if GlueContext is not None:
        raise RuntimeError(message) from error
    print(message, file=sys.stderr, flush=True)
    return exit_code
