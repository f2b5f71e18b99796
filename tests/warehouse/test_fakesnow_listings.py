"""The emulator keeps S3 listings for one statement only: a file written after a COPY is loaded by the next one."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import connect


def _parquet(order_ids: list[str]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"order_id": order_ids, "quantity": [1] * len(order_ids)}), buffer)
    return buffer.getvalue()


def test_a_copy_sees_the_files_written_since_the_previous_statement(
    warehouse_settings: Settings, s3_emulator: S3Emulator
) -> None:
    bucket, client = warehouse_settings.storage.curated_bucket, s3_emulator.client()
    folder = "listings/order_date=2026-06-17"
    client.put_object(Bucket=bucket, Key=f"{folder}/part-0.parquet", Body=_parquet(["a", "b"]))
    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    copy = (
        f"copy into {schema}.landed from '@{schema}.listings/order_date=2026-06-17/' "
        "file_format = (type = parquet) match_by_column_name = case_insensitive force = true"
    )
    with connect(warehouse_settings.snowflake) as warehouse:
        warehouse.execute(f"create schema if not exists {schema}")
        warehouse.execute(f"create table {schema}.landed (order_id varchar, quantity number)")
        warehouse.execute(f"create stage {schema}.listings url = 's3://{bucket}/listings/'")
        first = warehouse.execute(copy)
        client.put_object(Bucket=bucket, Key=f"{folder}/part-1.parquet", Body=_parquet(["c"]))
        second = warehouse.execute(copy)
        [(rows,)] = warehouse.execute(f"select count(*) from {schema}.landed")

    assert [row[0].rsplit("/", 1)[1] for row in first] == ["part-0.parquet"]
    assert sorted(row[0].rsplit("/", 1)[1] for row in second) == ["part-0.parquet", "part-1.parquet"]
    assert rows == 2 + 3  # the first COPY's two rows, then both files again (FORCE)
