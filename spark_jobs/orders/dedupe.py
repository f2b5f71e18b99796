"""The dedupe policy: a record landed more than once counts once, and the copy landed last wins.

"Landed last" is the landing order the manifests record (docs/architecture.md): the later part in the manifest's
`parts` list, then the later line in that part, also when a reused part lies in an older run's folder. Two lines of
one product in a cart are two purchases, not a duplicate (transforms.with_order_id numbers them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType


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


def filter_latest_records(ids_unique: bool) -> Callable[[DataFrame], DataFrame]:
    """One product or user record per non-null id, the one landed last.

    When the landing proved the ids unique (`ids_strictly_increasing` in the manifest), only the null ids are
    dropped: no window, no sort.
    """

    def transform(records: DataFrame) -> DataFrame:
        return records.where(F.col("id").isNotNull()) if ids_unique else records.transform(filter_latest_by("id"))

    return transform


def latest_copies(carts: DataFrame) -> DataFrame:
    """(cart_id, _latest_copy) for every cart id landed more than once: the small input of with_duplicate_flag.

    Duplicates are whole cart records delivered twice. Carts without an id are never duplicates: their lines go to
    quarantine. Found at the cart level, so a copy without lines still supersedes older copies. Only the id is read
    (Spark prunes the JSON to it), a hash aggregate over fixed-width record hashes finds the ids with more than one
    record (two records with equal 64-bit hashes are vanishingly unlikely), and only their records are compared
    exactly.
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
