"""Glue 4 / PySpark job: raw DummyJSON carts, products and users -> curated orders (one row per cart line).

Self-contained on purpose: Glue receives this file alone, so it imports only pyspark, the standard
library and (when present) awsglue. Layers, after MrPowers' spark-style-guide: column functions
(Column -> Column), transforms (DataFrame -> DataFrame, `with_*` add columns, `filter_*` drop rows) and
`main()`, which parses arguments, builds the session, reads, chains `.transform(...)` and writes.
Only APIs that exist in Spark 3.3 (Glue 4.0) are used. Contract: docs/architecture.md.

Exit codes (every launcher maps them the same way, ecom_pipeline/transform/process.py): 0 success,
2 bad configuration (one line `orders_job: config error: --arg: ...` on stderr), 3 a data-integrity failure
(one line `orders_job: data integrity error: ...`: the output does not add up, and the same input gives the same
answer), both never retried; anything else is an unexpected failure (exit 1 through the traceback), which may be.
On Glue the same one-line messages are the run's ErrorMessage.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from pyspark import SparkContext
from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

try:  # Only inside Glue (or its container image): the Scala side is not available elsewhere.
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions

    GLUE_AVAILABLE = True
except ImportError:
    GLUE_AVAILABLE = False

LOG = logging.getLogger("orders_job")

MONEY = DecimalType(12, 2)
PERCENT = DecimalType(5, 2)
UNKNOWN = "Unknown"
REQUIRED_ARGS = (
    "JOB_NAME",
    "raw_path",
    "curated_path",
    "quarantine_path",
    "ingest_date",
    "run_id",
    "summary_path",
)
# The business defaults, written once: Settings, JobRequest and the DuckDB reference are tested against these
# (tests/test_curated_contract.py).
DEFAULT_COST_RATIO = "0.6"
DEFAULT_ORDER_STATUS = "completed"
OPTIONAL_ARGS = {
    "cost_ratio": DEFAULT_COST_RATIO,
    "default_order_status": DEFAULT_ORDER_STATUS,
    "shuffle_partitions": None,
}

# Read schemas: explicit (no inference pass) and money as decimals, so "29.99" is parsed exactly.
CART_LINE_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("title", StringType()),
        StructField("price", MONEY),
        StructField("quantity", IntegerType()),
        StructField("total", MONEY),
        StructField("discountPercentage", PERCENT),
        StructField("discountedTotal", MONEY),
    ]
)
CART_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("userId", LongType()),
        StructField("date", StringType()),  # DummyJSON carts have none; other sources may
        StructField("status", StringType()),
        StructField("products", ArrayType(CART_LINE_SCHEMA)),
    ]
)
PRODUCT_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("title", StringType()),
        StructField("category", StringType()),
        StructField("brand", StringType()),
    ]
)
USER_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("firstName", StringType()),
        StructField("lastName", StringType()),
        StructField("email", StringType()),
        StructField(
            "address",
            StructType([StructField(name, StringType()) for name in ("city", "state", "country")]),
        ),
    ]
)

# The curated contract, written once: every column of the curated files, in file order, with its type and whether
# it may be null (not null: what the quarantine rules guarantee and `orders` requires). The loader's column list
# derives from it; the warehouse DDL, the DuckDB reference, the docs' table and the test data are tested against it
# (tests/test_curated_contract.py), because COPY ... MATCH_BY_COLUMN_NAME loads a renamed column as NULL, silently.
CURATED_SCHEMA = StructType(
    [
        StructField("order_id", StringType(), nullable=False),
        StructField("cart_id", LongType(), nullable=False),
        StructField("product_id", LongType(), nullable=False),
        StructField("customer_id", LongType(), nullable=False),
        StructField("product_title", StringType()),
        StructField("category", StringType()),
        StructField("brand", StringType()),
        StructField("customer_name", StringType()),
        StructField("customer_email", StringType()),
        StructField("city", StringType()),
        StructField("state", StringType()),
        StructField("country", StringType()),
        StructField("quantity", IntegerType(), nullable=False),
        StructField("unit_price", MONEY, nullable=False),
        StructField("discount_percentage", PERCENT),
        StructField("discounted_revenue", MONEY),
        StructField("revenue", MONEY, nullable=False),
        StructField("cost_price", MONEY, nullable=False),
        StructField("profit", MONEY, nullable=False),
        StructField("order_status", StringType()),
        StructField("ingested_at", TimestampType()),
        StructField("run_id", StringType()),
        StructField("order_date_copy", DateType(), nullable=False),  # the partition's order_date, inside the files
    ]
)
CURATED_COLUMNS = tuple(CURATED_SCHEMA.fieldNames())
# Descriptive fields: blank or missing becomes `Unknown` (keys and the title are never defaulted).
PRODUCT_DEFAULTED = ("category", "brand")
CUSTOMER_DEFAULTED = ("customer_name", "customer_email", "city", "state", "country")
DEFAULTED_COLUMNS = PRODUCT_DEFAULTED + CUSTOMER_DEFAULTED


EXIT_CONFIG_ERROR = 2
EXIT_DATA_INTEGRITY_ERROR = 3
CONFIG_ERROR_MARKER = "orders_job: config error: "
DATA_INTEGRITY_ERROR_MARKER = "orders_job: data integrity error: "


class JobDataIntegrityError(RuntimeError):
    """The job's outcome does not add up (a join fan-out, a lost row): never published, never retried."""


class JobConfigError(ValueError):
    """A bad argument or missing input: retrying cannot help. The message names the argument."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        super().__init__(f"--{argument}: {problem}")


@dataclass(frozen=True)
class JobArgs:
    """Validated job arguments."""

    job_name: str
    raw_path: str
    curated_path: str
    quarantine_path: str
    ingest_date: date
    cost_ratio: Decimal
    run_id: str
    default_order_status: str
    summary_path: str
    shuffle_partitions: int | None


# ---------------------------------------------------------------- arguments


class _ArgParser(argparse.ArgumentParser):
    """argparse that raises JobConfigError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        named = re.search(r"--(\w+)", message)
        raise JobConfigError(named.group(1) if named else "arguments", message)


def _raw_options(argv: Sequence[str]) -> dict[str, str]:
    """`--name value` pairs via Glue's getResolvedOptions, else argparse (ignoring Glue's system args)."""
    if GLUE_AVAILABLE:
        present = [name for name in OPTIONAL_ARGS if f"--{name}" in argv]
        return dict(getResolvedOptions(list(argv), [*REQUIRED_ARGS, *present]))
    parser = _ArgParser(prog="orders_job", allow_abbrev=False)
    for name in REQUIRED_ARGS:
        parser.add_argument(f"--{name}", required=name != "JOB_NAME", default="orders_job")
    for name, default in OPTIONAL_ARGS.items():
        parser.add_argument(f"--{name}", default=default)
    known, _glue_system_args = parser.parse_known_args(list(argv[1:]))
    return {key: value for key, value in vars(known).items() if value is not None}


def parse_args(argv: Sequence[str]) -> JobArgs:
    """Parse and validate `argv` (sys.argv form); raise JobConfigError naming the argument at fault."""
    options = {**{k: v for k, v in OPTIONAL_ARGS.items() if v is not None}, **_raw_options(argv)}
    for name in REQUIRED_ARGS:
        if not str(options.get(name, "")).strip():
            raise JobConfigError(name, "must not be empty")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", options["ingest_date"]):
            raise ValueError(options["ingest_date"])
        ingest_date = date.fromisoformat(options["ingest_date"])
    except ValueError:
        raise JobConfigError("ingest_date", f"{options['ingest_date']!r} is not a YYYY-MM-DD date") from None
    try:
        cost_ratio = Decimal(options["cost_ratio"])
    except InvalidOperation:
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} is not a decimal number") from None
    if not cost_ratio.is_finite() or not Decimal(0) < cost_ratio < Decimal(1):
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} must be between 0 and 1 (exclusive)")
    if cost_ratio.as_tuple().exponent < -6:  # type: ignore[operator]
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} has more than 6 decimal places")
    status = options["default_order_status"].strip()
    if not status:
        raise JobConfigError("default_order_status", "must not be blank")
    shuffle = options.get("shuffle_partitions")
    if shuffle is not None and (not shuffle.isdigit() or int(shuffle) < 1):
        raise JobConfigError("shuffle_partitions", f"{shuffle!r} must be a positive integer")
    return JobArgs(
        job_name=options["JOB_NAME"],
        raw_path=options["raw_path"].rstrip("/"),
        curated_path=options["curated_path"].rstrip("/"),
        quarantine_path=options["quarantine_path"].rstrip("/"),
        ingest_date=ingest_date,
        cost_ratio=cost_ratio,
        run_id=options["run_id"].strip(),
        default_order_status=status,
        summary_path=options["summary_path"],
        shuffle_partitions=int(shuffle) if shuffle is not None else None,
    )


# ---------------------------------------------------------------- column functions


def blank_as_null(col: Column) -> Column:
    """Trimmed string, with empty or whitespace-only text as null."""
    trimmed = F.trim(col)
    return F.when(trimmed == "", F.lit(None).cast(StringType())).otherwise(trimmed)


def or_unknown(col: Column) -> Column:
    """The documented default for descriptive fields that are missing."""
    return F.coalesce(blank_as_null(col), F.lit(UNKNOWN))


def full_name(first: Column, last: Column) -> Column:
    """`firstName lastName`, skipping a missing part; null when both are missing."""
    return blank_as_null(F.concat_ws(" ", blank_as_null(first), blank_as_null(last)))


def order_id(cart_id: Column, product_id: Column, occurrence: Column) -> Column:
    """`ORD-{cart_id}-{product_id}`, plus `-N` for the N-th line (N > 1) of the same product in a cart.

    Null when either key is null (concat propagates nulls), which sends the row to quarantine.
    """
    suffix = F.when(occurrence > 1, F.concat(F.lit("-"), occurrence.cast(StringType()))).otherwise(F.lit(""))
    return F.concat(F.lit("ORD-"), cart_id.cast(StringType()), F.lit("-"), product_id.cast(StringType()), suffix)


def money(col: Column) -> Column:
    """Cast to DECIMAL(12,2); Spark rounds HALF_UP when the scale shrinks."""
    return col.cast(MONEY)


def unit_cost(unit_price: Column, cost_ratio: Decimal) -> Column:
    """round_half_up(unit_price × cost_ratio, 2), with the ratio as an exact decimal literal."""
    ratio = F.lit(str(cost_ratio)).cast(DecimalType(7, 6))  # string -> decimal: no float ever involved
    return money(F.round(unit_price * ratio, 2))


# ---------------------------------------------------------------- transforms


def with_source_order(part_files: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """Add source_part and source_position right after the scan: the landing order, used for 'latest wins'.

    source_part is the index of the record's part in the manifest's `parts` list (the landing order, also when
    a part was reused from an earlier run's folder); each gzipped part is read whole by one task in line
    order, so the monotonically increasing id orders the rows inside a part.
    """
    entries = [item for index, file in enumerate(part_files) for item in (F.lit(_tail(file)), F.lit(index))]
    part_index = F.create_map(*entries) if entries else F.create_map().cast("map<string,int>")

    def transform(df: DataFrame) -> DataFrame:
        source_part = part_index[F.substring_index(F.input_file_name(), "/", -2)]
        return df.withColumn("source_part", source_part.cast(IntegerType())).withColumn(
            "source_position", F.monotonically_increasing_id()
        )

    return transform


def _tail(path: str) -> str:
    """The last two path segments, `run_id=<run>/part-00000.jsonl.gz`: what input_file_name() ends with."""
    return "/".join(path.rstrip("/").split("/")[-2:])


def filter_latest_by(key: str) -> Callable[[DataFrame], DataFrame]:
    """Keep one row per non-null `key`: the one landed last (highest source_part, then source_position)."""

    def transform(df: DataFrame) -> DataFrame:
        latest_first = Window.partitionBy(key).orderBy(F.col("source_part").desc(), F.col("source_position").desc())
        return (
            df.where(F.col(key).isNotNull())
            .withColumn("_rank", F.row_number().over(latest_first))
            .where(F.col("_rank") == 1)
            .drop("_rank")
        )

    return transform


# Per cart: the occurrence of each line's product among the lines up to it (1, 2, ... in line order). Higher-order
# functions run interpreted, so they are only evaluated for the rare carts that list a product twice; numbering
# inside the cart's array needs no shuffle (a window over all lines would sort them).
OCCURRENCES = "transform(products, (line, i) -> size(filter(slice(products, 1, i), e -> e.id <=> line.id)) + 1)"


def with_cart_lines(carts: DataFrame) -> DataFrame:
    """One row per cart line, with its position in the cart and the occurrence of its product."""
    repeats_a_product = F.size(F.array_distinct(F.col("products.id"))) < F.size("products")
    exploded = carts.select(
        F.col("id").alias("cart_id"),
        F.col("userId").alias("customer_id"),
        F.col("date").alias("cart_date"),
        F.col("status").alias("cart_status"),
        "source_part",
        "source_position",
        F.when(repeats_a_product, F.expr(OCCURRENCES)).alias("occurrences"),
        F.posexplode("products").alias("line_position", "line"),
    )
    return exploded.select(
        "cart_id", "customer_id", "cart_date", "cart_status", "source_part", "source_position", "line_position",
        F.coalesce(F.element_at("occurrences", F.col("line_position") + 1), F.lit(1)).alias("occurrence"),
        F.col("line.id").alias("product_id"),
        F.col("line.title").alias("line_title"),  # trimmed only where it is used: when the product has none
        F.col("line.quantity").alias("quantity"),
        F.col("line.price").alias("unit_price"),
        F.col("line.discountPercentage").alias("discount_percentage"),
        F.col("line.discountedTotal").alias("discounted_revenue"),
    )  # fmt: skip


def latest_copies(carts: DataFrame) -> DataFrame:
    """(cart_id, _latest_copy) for every cart id landed more than once: the small input of with_duplicate_flag.

    Duplicates are whole cart records delivered twice; two lines of one product in a cart are two purchases
    (see with_order_id). Carts without an id are never duplicates: their lines go to quarantine. Found at the
    cart level, so a copy without lines still supersedes older copies. Only the id is read (Spark prunes the
    JSON to it), a hash aggregate over fixed-width record hashes finds the ids with more than one record (two
    records with equal 64-bit hashes are vanishingly unlikely), and only their records are compared exactly.
    """
    keys = carts.select(F.col("id").alias("cart_id"), "source_part", "source_position").where(
        F.col("cart_id").isNotNull()
    )
    record_hash = F.xxhash64("source_part", "source_position")
    repeated_ids = (
        keys.groupBy("cart_id")
        .agg(F.min(record_hash).alias("_lowest"), F.max(record_hash).alias("_highest"))
        .where(F.col("_lowest") != F.col("_highest"))
        .select("cart_id")
    )
    return (
        keys.join(F.broadcast(repeated_ids), on="cart_id", how="inner")
        .groupBy("cart_id")
        .agg(F.max(F.struct("source_part", "source_position")).alias("_latest_copy"))
    )


def with_duplicate_flag(copies: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """is_duplicate: true for the lines of every copy of a cart id but the one landed last (see latest_copies).

    `copies` is small and broadcast, so the lines are never shuffled or sorted for it. None when the landing
    proved every cart id unique: then no line is a duplicate.
    """

    def transform(lines: DataFrame) -> DataFrame:
        if copies is None:
            return lines.withColumn("is_duplicate", F.lit(False))
        record = F.struct("source_part", "source_position")
        return (
            lines.join(F.broadcast(copies), on="cart_id", how="left")
            .withColumn("is_duplicate", F.coalesce(record != F.col("_latest_copy"), F.lit(False)))
            .drop("_latest_copy")
        )

    return transform


def with_product_details(products: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Join the product record (one per id: see latest_records): title (fallback: the line's title), category,
    brand, product_known.

    The descriptive defaults are applied to the small lookup, not to every line; a line without a product gets
    `Unknown` from the join's miss (and is quarantined as unknown_product).
    """
    lookup = products.select(
        F.col("id").alias("product_id"),
        blank_as_null(F.col("title")).alias("_product_title"),
        or_unknown(F.col("category")).alias("category"),
        or_unknown(F.col("brand")).alias("brand"),
        F.lit(True).alias("product_known"),
    )

    def transform(lines: DataFrame) -> DataFrame:
        joined = lines.join(lookup, on="product_id", how="left")
        return joined.withColumns(
            {
                "product_title": F.coalesce("_product_title", blank_as_null(F.col("line_title"))),
                "product_known": F.coalesce("product_known", F.lit(False)),
                **_unknown_when_missing(PRODUCT_DEFAULTED),
            }
        ).drop("_product_title", "line_title")

    return transform


def with_customer_details(users: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Join the user record (one per id: see latest_records): customer_name, customer_email, city, state, country,
    customer_known."""
    lookup = users.select(
        F.col("id").alias("customer_id"),
        or_unknown(full_name(F.col("firstName"), F.col("lastName"))).alias("customer_name"),
        or_unknown(F.col("email")).alias("customer_email"),
        or_unknown(F.col("address.city")).alias("city"),
        or_unknown(F.col("address.state")).alias("state"),
        or_unknown(F.col("address.country")).alias("country"),
        F.lit(True).alias("customer_known"),
    )

    def transform(lines: DataFrame) -> DataFrame:
        return lines.join(lookup, on="customer_id", how="left").withColumns(
            {
                "customer_known": F.coalesce("customer_known", F.lit(False)),
                **_unknown_when_missing(CUSTOMER_DEFAULTED),
            }
        )

    return transform


def _unknown_when_missing(names: Sequence[str]) -> dict[str, Column]:
    """`Unknown` for descriptive columns that a lookup join did not fill (its values are already defaulted)."""
    return {name: F.coalesce(F.col(name), F.lit(UNKNOWN)) for name in names}


def with_order_amounts(cost_ratio: Decimal) -> Callable[[DataFrame], DataFrame]:
    """revenue, cost_price (per unit) and profit, all DECIMAL(12,2) and exact."""

    def transform(lines: DataFrame) -> DataFrame:
        unit_price = money(F.col("unit_price"))
        cost_price = unit_cost(unit_price, cost_ratio)
        return lines.withColumns(
            {
                "unit_price": unit_price,
                "discount_percentage": F.col("discount_percentage").cast(PERCENT),
                "discounted_revenue": money(F.col("discounted_revenue")),
                "revenue": money(unit_price * F.col("quantity")),
                "cost_price": cost_price,
                "profit": money((unit_price - cost_price) * F.col("quantity")),
            }
        )

    return transform


def with_order_date(ingest_date: date) -> Callable[[DataFrame], DataFrame]:
    """order_date (the cart's date, else the ingest date) and order_date_invalid (a date that does not parse).

    Computed on the narrow lines, before they are cached and sorted by it: the partitioned write then finds its
    rows already in order_date order and skips its own sort of the wide rows.
    """

    def transform(lines: DataFrame) -> DataFrame:
        cart_date = blank_as_null(F.col("cart_date"))
        return (
            lines.withColumn("_parsed_date", F.to_date(cart_date))
            .withColumn("order_date_invalid", cart_date.isNotNull() & F.col("_parsed_date").isNull())
            .withColumn("order_date", F.coalesce("_parsed_date", F.to_date(F.lit(ingest_date.isoformat()))))
            .drop("_parsed_date", "cart_date")
        )

    return transform


def with_order_attributes(default_status: str) -> Callable[[DataFrame], DataFrame]:
    """order_date_copy (order_date inside the files) and order_status (the cart's status, else the default)."""

    def transform(lines: DataFrame) -> DataFrame:
        return lines.withColumns(
            {
                "order_date_copy": F.col("order_date"),
                "order_status": F.coalesce(blank_as_null(F.col("cart_status")), F.lit(default_status)),
            }
        ).drop("cart_status")

    return transform


def with_run_metadata(ingested_at: datetime, run_id: str) -> Callable[[DataFrame], DataFrame]:
    """ingested_at (job start, UTC) and run_id."""

    def transform(lines: DataFrame) -> DataFrame:
        return lines.withColumns({"ingested_at": F.lit(ingested_at).cast("timestamp"), "run_id": F.lit(run_id)})

    return transform


def with_order_id(lines: DataFrame) -> DataFrame:
    """order_id, numbering repeated products inside one cart record in line order."""
    return lines.withColumn("order_id", order_id(F.col("cart_id"), F.col("product_id"), F.col("occurrence")))


QUARANTINE_REASONS = (
    "null_key", "unknown_product", "unknown_customer", "invalid_quantity", "invalid_unit_price",
    "missing_product_title", "invalid_order_date",
)  # fmt: skip


def with_quarantine_reason(lines: DataFrame) -> DataFrame:
    """reason: the first rule a row breaks, in QUARANTINE_REASONS order (null when it is clean)."""
    rules = [
        (
            "null_key",
            F.col("cart_id").isNull() | F.col("product_id").isNull() | F.col("customer_id").isNull(),
        ),
        ("unknown_product", ~F.col("product_known")),
        ("unknown_customer", ~F.col("customer_known")),
        ("invalid_quantity", F.col("quantity").isNull() | (F.col("quantity") <= 0)),
        ("invalid_unit_price", F.col("unit_price").isNull() | (F.col("unit_price") <= 0)),
        ("missing_product_title", F.col("product_title").isNull()),
        ("invalid_order_date", F.col("order_date_invalid")),
    ]
    assert tuple(name for name, _ in rules) == QUARANTINE_REASONS
    reason = F.lit(None).cast(StringType())
    for name, broken in reversed(rules):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    return lines.withColumn("reason", reason)


def filter_curated(classified: DataFrame) -> DataFrame:
    """Rows to publish: not a duplicate, no quarantine reason; curated columns plus the partition column."""
    kept = classified.where(~F.col("is_duplicate") & F.col("reason").isNull())
    return kept.select(*CURATED_COLUMNS, "order_date")


def filter_quarantined(classified: DataFrame) -> DataFrame:
    """Rejected rows (duplicate cart copies are counted, not quarantined), with their reason."""
    return classified.where(~F.col("is_duplicate") & F.col("reason").isNotNull()).select(
        *CURATED_COLUMNS, "order_date", "reason"
    )


def classify_orders(
    carts: DataFrame, products: DataFrame, users: DataFrame, args: JobArgs, ingested_at: datetime
) -> DataFrame:
    """The whole enrich + clean chain: one row per cart line with is_duplicate and reason."""
    copies, latest_products, latest_users = latest_copies(carts), latest_records(products), latest_records(users)
    return classify_lines(prepare_lines(carts, args), copies, latest_products, latest_users, args, ingested_at)


def latest_records(records: DataFrame, ids_unique: bool = False) -> DataFrame:
    """One record per non-null id, the one landed last; a filter only, when the landing proved the ids unique."""
    return records.where(F.col("id").isNotNull()) if ids_unique else records.transform(filter_latest_by("id"))


def prepare_lines(carts: DataFrame, args: JobArgs) -> DataFrame:
    """The narrow cart lines with their order date (main() sorts them by it before the joins)."""
    return carts.transform(with_cart_lines).transform(with_order_date(args.ingest_date))


def classify_lines(
    lines: DataFrame,
    copies: DataFrame | None,
    products: DataFrame,
    users: DataFrame,
    args: JobArgs,
    ingested_at: datetime,
) -> DataFrame:
    """classify_orders after prepare_lines and latest_copies."""
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


# ---------------------------------------------------------------- I/O


def _hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(FileSystem, Path) for `path` through the JVM, so s3a (local) and EMRFS (Glue) both work."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def read_manifest(spark: SparkSession, raw_path: str, resource: str, ingest_date: date) -> dict[str, Any]:
    """The landing manifest of one resource and date; JobConfigError when absent or unreadable."""
    folder = f"{raw_path}/{resource}/ingest_date={ingest_date.isoformat()}"
    manifest_path = f"{folder}/_manifest.json"
    fs, hadoop_path = _hadoop_path(spark, manifest_path)
    if not fs.exists(hadoop_path):
        raise JobConfigError("raw_path", f"no manifest at {manifest_path}: land {resource} for {ingest_date} first")
    text = read_text(spark, manifest_path)
    try:
        manifest = json.loads(text)
        files = [f"{folder}/{part['file']}" for part in manifest["parts"]]
    except (ValueError, KeyError, TypeError) as error:
        raise JobConfigError("raw_path", f"unreadable manifest {manifest_path}: {error}") from None
    return {**manifest, "part_paths": files}


def read_parts(spark: SparkSession, paths: Sequence[str], schema: StructType) -> DataFrame:
    """The parts at `paths` (manifest order), with the explicit schema and the read order columns.

    FAILFAST: a malformed line fails the job loudly instead of becoming a silently dropped null row
    (land already validated every record, so this means corruption).
    """
    if not paths:
        return spark.createDataFrame([], schema).transform(with_source_order([]))
    return spark.read.json(paths, schema=schema, mode="FAILFAST").transform(with_source_order(paths))


def read_text(spark: SparkSession, path: str) -> str:
    """Read one small file through the Hadoop FileSystem API.

    Not spark.read.text: Spark (like Hadoop input formats) skips files whose names start with `_`,
    which is exactly what `_manifest.json` is.
    """
    fs, hadoop_path = _hadoop_path(spark, path)
    stream = fs.open(hadoop_path)
    try:
        scanner = spark.sparkContext._jvm.java.util.Scanner(stream, "UTF-8").useDelimiter("\\A")
        return scanner.next() if scanner.hasNext() else ""
    finally:
        stream.close()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write one small file through the Hadoop FileSystem API (overwrites)."""
    fs, hadoop_path = _hadoop_path(spark, path)
    stream = fs.create(hadoop_path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def outcome_metrics() -> list[Column]:
    """Aggregates over the classified rows, observed while the curated files are written (no extra pass)."""
    kept = ~F.col("is_duplicate")
    written = kept & F.col("reason").isNull()
    return [
        F.count(F.when(written, 1)).alias("rows_written"),
        F.count(F.when(F.col("is_duplicate"), 1)).alias("duplicates_removed"),
        F.sum(F.when(written, F.col("revenue"))).alias("revenue_written"),
        F.sum(F.when(written, F.col("profit"))).alias("profit_written"),
        # Text, not an array: observed values cross from the JVM as plain scalars only.
        F.array_join(F.collect_set(F.when(written, F.col("order_date"))).cast("array<string>"), ",").alias(
            "partitions_written"
        ),
        *[F.count(F.when(kept & (F.col("reason") == name), 1)).alias(name) for name in QUARANTINE_REASONS],
    ]


def summarize(values: dict[str, Any], args: JobArgs, rows_read: int) -> dict[str, Any]:
    """The job summary from the observed outcome_metrics; asserts that every line read is accounted for."""
    quarantined = {name: int(values[name]) for name in QUARANTINE_REASONS if values[name]}
    summary = {
        "run_id": args.run_id,
        "ingest_date": args.ingest_date.isoformat(),
        "rows_read": rows_read,
        "rows_written": int(values["rows_written"]),
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": dict(sorted(quarantined.items())),
        "duplicates_removed": int(values["duplicates_removed"]),
        "partitions_written": sorted(day for day in (values["partitions_written"] or "").split(",") if day),
        "revenue_written": str(values["revenue_written"] or Decimal("0.00")),
        "profit_written": str(values["profit_written"] or Decimal("0.00")),
    }
    accounted = summary["rows_written"] + summary["rows_quarantined"] + summary["duplicates_removed"]
    if accounted != rows_read:  # a join fan-out or a lost row: never publish a summary that does not add up
        raise JobDataIntegrityError(f"rows_read {rows_read} != written + quarantined + duplicates = {accounted}")
    return summary


# ---------------------------------------------------------------- entrypoint


def build_session(args: JobArgs) -> tuple[SparkSession, Any]:
    """(SparkSession, Glue Job or None). Glue objects only where awsglue is importable."""
    if GLUE_AVAILABLE:
        glue_context = GlueContext(SparkContext.getOrCreate())
        job = Job(glue_context)
        job.init(args.job_name, {"JOB_NAME": args.job_name})
        return glue_context.spark_session, job
    spark = SparkSession.builder.appName(args.job_name).getOrCreate()  # spark-submit passes master and confs
    spark.sparkContext.setLogLevel("WARN")  # Spark's INFO lines (plans, schemas) drown the job's own lines
    return spark, None


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the job; return the summary it wrote."""
    args = parse_args(sys.argv if argv is None else argv)
    ingested_at = datetime.now(timezone.utc).replace(microsecond=0)  # noqa: UP017 - Glue 4 runs Python 3.10
    spark, job = build_session(args)
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")  # replace only this run's dates
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    if args.shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    LOG.info("run %s: ingest_date=%s raw=%s", args.run_id, args.ingest_date, args.raw_path)

    # Repeated records are found (a scan of the cart ids before the main pass, a window over products and users)
    # unless the landing proved there are none: ids strictly increasing in landing order (docs/architecture.md).
    frames, unique = {}, {}
    for resource, schema in (("carts", CART_SCHEMA), ("products", PRODUCT_SCHEMA), ("users", USER_SCHEMA)):
        manifest = read_manifest(spark, args.raw_path, resource, args.ingest_date)
        frames[resource] = read_parts(spark, manifest["part_paths"], schema)
        unique[resource] = manifest.get("ids_strictly_increasing") is True
    LOG.info("ids proven unique by the landing (no duplicate search): %s", unique)
    carts = frames["carts"]
    copies = None if unique["carts"] else latest_copies(carts)
    products = latest_records(frames["products"], unique["products"])  # small: broadcast, not cached
    users = latest_records(frames["users"], unique["users"])

    def classified(lines: DataFrame) -> DataFrame:
        return classify_lines(lines, copies, products, users, args, ingested_at)

    # One pass over the carts: parse, explode, classify and write, nothing cached. The narrow lines are sorted
    # by order_date before the joins, so the partitioned write finds its rows in order and sorts nothing wide.
    lines = prepare_lines(carts, args).sortWithinPartitions("order_date")
    # Observed while the files are written: lines read (before the joins, so the balance check catches a join
    # fan-out or a lost row) and the outcome of every line.
    read, outcome = Observation("orders_job_read"), Observation("orders_job_outcome")
    observed = classified(lines.observe(read, F.count(F.lit(1)).alias("rows"))).observe(outcome, *outcome_metrics())
    observed.transform(filter_curated).write.mode("overwrite").partitionBy("order_date").option(
        "compression", "snappy"
    ).parquet(args.curated_path)
    summary = summarize(outcome.get, args, int(read.get["rows"]))
    LOG.info("wrote %d curated orders to %s", summary["rows_written"], args.curated_path)
    if summary["rows_quarantined"]:  # a second pass, without the observations (they are taken once)
        quarantined = classified(lines).transform(filter_quarantined)
    else:  # an empty folder with the schema, without a second pass
        quarantined = observed.transform(filter_quarantined).limit(0)
    quarantine_folder = f"{args.quarantine_path}/ingest_date={args.ingest_date.isoformat()}"
    quarantined.write.mode("overwrite").option("compression", "snappy").parquet(quarantine_folder)
    write_text(spark, args.summary_path, json.dumps(summary, indent=2))
    LOG.info("summary %s", json.dumps(summary))
    if job is not None:
        job.commit()
    return summary


def run(argv: Sequence[str] | None = None) -> int:
    """Command-line entrypoint: exit 2 (configuration) or 3 (data integrity) with one line; 1 on anything else."""
    logging.basicConfig(level=logging.INFO, format="orders_job %(levelname)s %(message)s", stream=sys.stderr)
    try:
        main(argv)
    except JobConfigError as error:
        return _fail(EXIT_CONFIG_ERROR, CONFIG_ERROR_MARKER, error)
    except JobDataIntegrityError as error:
        return _fail(EXIT_DATA_INTEGRITY_ERROR, DATA_INTEGRITY_ERROR_MARKER, error)
    return 0


def _fail(exit_code: int, marker: str, error: Exception) -> int:
    """Print the one-line verdict and return the exit code; on Glue, raise it (Glue's ErrorMessage is its text)."""
    message = f"{marker}{error}"
    if GLUE_AVAILABLE:
        raise RuntimeError(message) from error
    print(message, file=sys.stderr, flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(run())
