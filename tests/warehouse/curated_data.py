"""Curated-zone test data built from the real DummyJSON files in plain Decimal, written as Snappy Parquet.

Shares no code with the pipeline: the views are checked against these rows and the aggregates computed here.
Carts carry no date or status, so the test spreads them over ten order dates and three statuses by cart id.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.connection import bootstrap_warehouse

CENT = Decimal("0.01")
COST_RATIO = Decimal("0.6")
FIRST_ORDER_DATE = date(2026, 6, 8)
STATUSES = ("completed", "completed", "completed", "pending", "cancelled")

CURATED_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("cart_id", pa.int64()),
        ("product_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("product_title", pa.string()),
        ("category", pa.string()),
        ("brand", pa.string()),
        ("customer_name", pa.string()),
        ("customer_email", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("country", pa.string()),
        ("quantity", pa.int32()),
        ("unit_price", pa.decimal128(12, 2)),
        ("discount_percentage", pa.decimal128(5, 2)),
        ("discounted_revenue", pa.decimal128(12, 2)),
        ("revenue", pa.decimal128(12, 2)),
        ("cost_price", pa.decimal128(12, 2)),
        ("profit", pa.decimal128(12, 2)),
        ("order_status", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("order_date_copy", pa.date32()),
    ]
)


def _load(data_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((data_dir / f"{resource}.json").read_text(), parse_float=Decimal)[resource]


def _known(value: Any) -> str:
    return str(value).strip() if value is not None and str(value).strip() else "Unknown"


def curated_rows(data_dir: Path) -> list[dict[str, Any]]:
    """One curated row per cart line (800 for the 2026-06 snapshot), money exact."""
    users = {user["id"]: user for user in _load(data_dir, "users")}
    products = {product["id"]: product for product in _load(data_dir, "products")}
    rows = []
    for cart in _load(data_dir, "carts"):
        user = users[cart["userId"]]
        seen: dict[int, int] = defaultdict(int)
        for line in cart["products"]:
            product = products[line["id"]]
            seen[line["id"]] += 1
            suffix = f"-{seen[line['id']]}" if seen[line["id"]] > 1 else ""
            price = Decimal(line["price"]).quantize(CENT)
            quantity = int(line["quantity"])
            cost = (price * COST_RATIO).quantize(CENT, rounding=ROUND_HALF_UP)
            rows.append(
                {
                    "order_id": f"ORD-{cart['id']}-{line['id']}{suffix}",
                    "cart_id": cart["id"],
                    "product_id": line["id"],
                    "customer_id": user["id"],
                    "product_title": line["title"],
                    "category": _known(product.get("category")),
                    "brand": _known(product.get("brand")),
                    "customer_name": f"{user['firstName']} {user['lastName']}",
                    "customer_email": user["email"],
                    "city": _known(user["address"].get("city")),
                    "state": _known(user["address"].get("state")),
                    "country": _known(user["address"].get("country")),
                    "quantity": quantity,
                    "unit_price": price,
                    "discount_percentage": Decimal(line["discountPercentage"]).quantize(CENT),
                    "discounted_revenue": Decimal(line["discountedTotal"]).quantize(CENT),
                    "revenue": price * quantity,
                    "cost_price": cost,
                    "profit": (price - cost) * quantity,
                    "order_status": STATUSES[cart["id"] % len(STATUSES)],
                    "ingested_at": datetime(2026, 6, 17, 10, 15),
                    "run_id": "spark-run-1",
                    "order_date_copy": FIRST_ORDER_DATE + timedelta(days=cart["id"] % 10),
                }
            )
    return rows


def parquet_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    """Snappy Parquet with exactly the curated schema."""
    table = pa.Table.from_pylist(list(rows), schema=CURATED_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def by_partition(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by their `order_date=` partition value."""
    partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        partitions[row["order_date_copy"].isoformat()].append(row)
    return dict(sorted(partitions.items()))


def part_key(prefix: str, partition_date: str, index: int = 0) -> str:
    """The S3 key of one part file, named as Spark names them."""
    return f"{prefix}/order_date={partition_date}/part-{index:05d}-c000.snappy.parquet"


def upload_curated(s3_client: Any, bucket: str, prefix: str, rows: Iterable[dict[str, Any]]) -> list[str]:
    """Write each partition as one part file; return the partition values."""
    partitions = by_partition(rows)
    for partition_date, partition_rows in partitions.items():
        s3_client.put_object(Bucket=bucket, Key=part_key(prefix, partition_date), Body=parquet_bytes(partition_rows))
    return list(partitions)


def job_summary(rows: list[dict[str, Any]]) -> JobSummary:
    """The Spark job's summary for these rows (the loader's `expected`): every line read was written."""
    return JobSummary(
        run_id=rows[0]["run_id"],
        ingest_date="2026-06-17",
        rows_read=len(rows),
        rows_written=len(rows),
        rows_quarantined=0,
        quarantined_by_reason={},
        duplicates_removed=0,
        partitions_written=list(by_partition(rows)),
        revenue_written=sum((row["revenue"] for row in rows), Decimal(0)),
        profit_written=sum((row["profit"] for row in rows), Decimal(0)),
    )


def half_up(value: Decimal) -> Decimal:
    """Round to cents, half up (Snowflake's ROUND on NUMBER)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def bootstrapped_warehouse(
    fakesnow_emulator: tuple[str, int], s3_emulator: Any, rows: list[dict[str, Any]], name: str
) -> tuple[Settings, list[str]]:
    """A database and curated bucket of their own (named after `name`), `rows` uploaded, the warehouse bootstrapped.

    Returns the settings that point at them and the curated partitions.
    """
    suffix = uuid.uuid4().hex[:10]
    bucket = f"curated-{name}-{suffix}"
    s3_emulator.create_buckets([bucket])
    host, port = fakesnow_emulator
    settings = Settings().updated(
        storage={"curated_bucket": bucket, "aws_endpoint_url": s3_emulator.endpoint_url},
        snowflake={"database": f"{name.upper()}_{suffix.upper()}", "host": host, "port": port, "protocol": "http",
                   "emulator": True},
    )  # fmt: skip
    partitions = upload_curated(s3_emulator.client(), bucket, settings.storage.curated_prefix, rows)
    bootstrap_warehouse(settings)
    return settings, partitions
