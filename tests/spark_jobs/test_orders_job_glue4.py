"""The orders job on Glue 4.0's own versions (Spark 3.3.0, Python 3.10) gives the project's PySpark output.

Both runs go through LocalSparkLauncher (spark-submit, s3a, moto S3) on the same raw zone: the real DummyJSON
snapshot plus the bad-record corpus, so dedupe, quarantine, a second partition and rounding all run. The Glue 4
run uses a side environment the tests build (glue4_env.py), which gets the job as Glue does, its entry script and
the package zip; an API Spark 3.3 or Python 3.10 lacks fails this test. Both Sparks write timestamps as the job
asks, Parquet's INT64 `TIMESTAMP(MICROS)`, not their default INT96 (read from the files' footers).
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from glue4_env import GLUE4_SPARK, HOW_TO_GET_PYTHON, find_python310, glue4_python, python_version

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform import JobRequest, LocalSparkLauncher
from ecom_pipeline.transform.local import ClassDataArchive

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
INGEST_DATE = date(2026, 6, 17)
REQUEST = JobRequest(ingest_date=INGEST_DATE, run_id="glue4-same-output", cost_ratio=Decimal("0.65"))
RUN_SPECIFIC = ("ingested_at",)  # the job's start time; the run id is the same in both runs
SPARK_VERSION_KEY = b"org.apache.spark.version"  # Spark writes its version into every Parquet footer


@dataclass(frozen=True)
class Dataset:
    """A Parquet dataset read back from S3: its schema, rows, the Spark versions that wrote its files and how
    their footers store timestamps ((column, physical type, logical type) of every INT96 or timestamp column)."""

    schema: pa.Schema
    rows: list[dict[str, Any]]
    written_by: set[str]
    timestamps: set[tuple[str, str, str]]


@dataclass(frozen=True)
class JobOutput:
    """What one run produced."""

    summary: dict[str, Any]
    curated: Dataset
    quarantine: Dataset


def corpus(file: str) -> list[dict[str, Any]]:
    """Carts of the bad-record corpus, renumbered past the snapshot's ids (a repeated id stays repeated)."""
    carts = json.loads((BAD / file).read_text(encoding="utf-8"))["carts"]
    return [{**cart, "id": cart["id"] + 1000} for cart in carts]


def raw_records(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The snapshot plus records that take every path of the job: duplicates, each quarantine reason, a dated
    cart (its own partition), a product listed twice in one cart, half-cent prices and non-ASCII names."""
    first = snapshot["products"][0]
    line = {"id": first["id"], "title": first["title"], "price": 10.005, "quantity": 3, "discountPercentage": 12.345}
    carts = [
        *snapshot["carts"],
        *corpus("carts_duplicate_ids.json"),
        *corpus("carts_unknown_refs.json"),
        *corpus("carts_bad_quantities_prices.json"),
        {"id": 2001, "userId": 9001, "date": "2026-06-10", "status": "shipped", "products": [line]},
        {"id": 2002, "userId": 1, "date": "not-a-date", "products": [line]},
        {"id": 2003, "userId": 2, "products": [line, {**line, "price": 0.015}, {"title": "no id", "price": 1}]},
    ]
    users = snapshot["users"] + json.loads((BAD / "users_non_ascii.json").read_text(encoding="utf-8"))["users"]
    products = [*snapshot["products"], {**first, "title": f"{first['title']} (relisted)"}]  # the later copy wins
    return {"carts": carts, "users": users, "products": products}


@pytest.fixture
def settings(job_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for the project's PySpark on this test's buckets; the Glue 4 run changes only its Python."""
    monkeypatch.delenv("SPARK_HOME", raising=False)  # spark-submit must find its own environment's Spark
    return job_settings


def read_dataset(s3: Any, bucket: str, prefix: str) -> Dataset:
    """Every Parquet file under `prefix`, partition values (`name=value` folders) added as text columns."""
    tables, written_by, timestamps = [], set(), set()
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        if item["Key"].endswith(".parquet"):
            parquet = pq.ParquetFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()))
            written_by.add(parquet.metadata.metadata[SPARK_VERSION_KEY].decode())
            timestamps |= {
                (column.name, column.physical_type, str(column.logical_type))
                for column in (parquet.schema.column(index) for index in range(len(parquet.schema)))
                if column.physical_type == "INT96" or column.logical_type.type == "TIMESTAMP"
            }
            table = parquet.read()
            for folder in item["Key"].removeprefix(prefix).split("/")[:-1]:
                name, value = folder.split("=", 1)
                table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
            tables.append(table.drop_columns(list(RUN_SPECIFIC)))
    assert tables, f"no Parquet files under s3://{bucket}/{prefix}"
    schema = tables[0].schema.remove_metadata()
    assert all(table.schema.remove_metadata() == schema for table in tables)
    return Dataset(schema, [row for table in tables for row in table.to_pylist()], written_by, timestamps)


def run_job(settings: Settings, s3: Any, curated_bucket: str) -> JobOutput:
    """Run the job through the real launcher into `curated_bucket`; read back its summary and datasets."""
    settings = settings.updated(storage={"curated_bucket": curated_bucket})
    summary = LocalSparkLauncher(settings, s3_client=s3).run(REQUEST)
    storage = settings.storage
    quarantine = f"{storage.quarantine_prefix}/{storage.curated_prefix}/"
    return JobOutput(
        summary,
        read_dataset(s3, curated_bucket, f"{storage.curated_prefix}/"),
        read_dataset(s3, curated_bucket, quarantine),
    )


def canonical(row: dict[str, Any]) -> str:
    """A row as sortable text; Decimals as their exact digits."""
    return json.dumps(row, sort_keys=True, default=str)


def test_glue4_versions_give_the_project_output(
    tmp_path: Path,
    settings: Settings,
    s3_emulator: S3Emulator,
    dummyjson_records: dict[str, list[dict[str, Any]]],
    land_raw_s3: Callable[..., None],
) -> None:
    python = glue4_python()  # built here, not in a fixture, so its time counts in this test's duration
    s3, storage = s3_emulator.client(), settings.storage
    for resource, records in raw_records(dummyjson_records).items():
        land_raw_s3(s3, storage.raw_bucket, storage.raw_prefix, resource, INGEST_DATE, records, records_per_part=40)
    glue4_bucket = f"{storage.curated_bucket}-glue4"
    s3_emulator.create_buckets([glue4_bucket])
    glue4_settings = settings.updated(spark={"python": python})
    launcher = LocalSparkLauncher(glue4_settings)
    assert (python_version(python) or "").startswith("3.10.")
    assert launcher.environment()["PYSPARK_PYTHON"] == str(python)
    assert launcher.command(REQUEST)[0] == str(python.parent / "spark-submit")
    # That Python has no copy of the job: it runs from the package zip (--py-files), as on Glue.
    own_copy = subprocess.run([str(python), "-c", "import spark_jobs"], cwd=tmp_path, capture_output=True, check=False)
    assert own_copy.returncode != 0

    project = run_job(settings, s3, storage.curated_bucket)
    glue4 = run_job(glue4_settings, s3, glue4_bucket)

    # Each run's files were written by the Spark it was meant to run on.
    assert glue4.curated.written_by == glue4.quarantine.written_by == {GLUE4_SPARK}
    assert len(project.curated.written_by) == 1 and project.curated.written_by != {GLUE4_SPARK}
    # Both Sparks store ingested_at as INT64 TIMESTAMP(MICROS), not INT96 (docs/architecture.md, "Curated zone").
    for dataset in (project.curated, project.quarantine, glue4.curated, glue4.quarantine):
        assert {(name, physical) for name, physical, _ in dataset.timestamps} == {("ingested_at", "INT64")}
        assert all("timeUnit=microseconds" in logical for _, _, logical in dataset.timestamps), dataset.timestamps
    # The input takes every path: duplicate carts, the quarantine rules, a second partition.
    assert project.summary.duplicates_removed > 0
    assert project.summary.partitions_written == ["2026-06-10", INGEST_DATE.isoformat()]
    assert set(project.summary.quarantined_by_reason) == {
        "invalid_order_date", "invalid_quantity", "invalid_unit_price", "null_key", "unknown_customer",
        "unknown_product",
    }  # fmt: skip
    assert glue4.summary == project.summary

    # Same columns, types (DECIMAL(12,2) money) and order; the same rows, order by order, with exact Decimals.
    assert glue4.curated.schema == project.curated.schema
    assert glue4.quarantine.schema == project.quarantine.schema
    expected = {row["order_id"]: canonical(row) for row in project.curated.rows}
    actual = {row["order_id"]: canonical(row) for row in glue4.curated.rows}
    assert len(expected) == len(project.curated.rows) == project.summary.rows_written
    assert sorted(actual) == sorted(expected)
    assert [order for order in sorted(expected) if actual[order] != expected[order]] == []
    assert sorted(map(canonical, glue4.quarantine.rows)) == sorted(map(canonical, project.quarantine.rows))
    assert len(project.quarantine.rows) == project.summary.rows_quarantined


def test_missing_python310_fails_and_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception) as failure:
        find_python310()
    assert str(failure.value) == HOW_TO_GET_PYTHON and "pyenv install 3.10" in HOW_TO_GET_PYTHON


def test_a_python_without_spark_submit_beside_it_is_a_clear_error(tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    launcher = LocalSparkLauncher(Settings().updated(spark={"python": python, "class_data_dir": tmp_path}))
    with pytest.raises(TransformError) as error:
        launcher.command(REQUEST)
    assert (str(error.value), error.value.transient) == (
        f"spark-submit not found beside {python}: install pyspark there",
        False,
    )


def test_another_spark_has_its_own_class_data_archive(tmp_path: Path) -> None:
    jars = [Path("/opt/jars/hadoop-aws-3.3.1.jar")]
    glue4 = ClassDataArchive(tmp_path, jars, Path("/venvs/glue4/bin/spark-submit"))
    assert glue4.path != ClassDataArchive(tmp_path, jars, Path("/project/.venv/bin/spark-submit")).path
