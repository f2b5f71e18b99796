"""Reads and writes of the job: the raw zone through its manifests, the curated and quarantine Parquet, small files.

Paths go through the JVM's Hadoop FileSystem, so s3a (locally), EMRFS (on Glue) and file:// (tests) all work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from spark_jobs.orders.dedupe import with_source_order
from spark_jobs.orders.errors import JobConfigError


def _hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(FileSystem, Path) for `path` through the JVM."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def read_manifest(spark: SparkSession, raw_path: str, resource: str, ingest_date: date) -> dict[str, Any]:
    """The landing manifest of one resource and date, plus `part_paths`; JobConfigError when absent or unreadable."""
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
    return spark.read.json(list(paths), schema=schema, mode="FAILFAST").transform(with_source_order(paths))


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


def write_curated(curated: DataFrame, curated_path: str) -> None:
    """Snappy Parquet partitioned by order_date; with dynamic partition overwrite only this run's dates change."""
    curated.write.mode("overwrite").partitionBy("order_date").option("compression", "snappy").parquet(curated_path)


def write_quarantine(quarantined: DataFrame, quarantine_path: str, ingest_date: date) -> None:
    """The ingest date's rejected rows, replacing that date's folder."""
    folder = f"{quarantine_path}/ingest_date={ingest_date.isoformat()}"
    quarantined.write.mode("overwrite").option("compression", "snappy").parquet(folder)
