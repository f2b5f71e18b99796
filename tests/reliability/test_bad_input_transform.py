"""Bad records only the transform can judge (duplicate carts, unknown users and products), plus non-ASCII text,
through the real path: API server -> extract -> raw zone -> spark-submit job -> curated Parquet on moto S3."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ecom_local.api.server import ApiServer
from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.land.ingest import ingest_resource
from ecom_pipeline.settings import load_settings
from ecom_pipeline.transform import JobRequest, LocalSparkLauncher

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
RUN_DATE = date(2026, 6, 17)
RUN_ID = "20260617T000000Z-badtx1"


class MemorySource:
    """Records by position from lists in memory (the DataSource protocol)."""

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records

    def total(self, resource: str) -> int:
        return len(self.records[resource])

    def items(self, resource: str, skip: int, count: int) -> list[dict[str, Any]]:
        return json.loads(json.dumps(self.records[resource][skip : skip + count]))


def corpus(file: str, resource: str) -> list[Any]:
    return json.loads((BAD / file).read_text(encoding="utf-8"))[resource]


def parquet_rows(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    rows = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                rows += pq.read_table(io.BytesIO(body)).to_pylist()
    return rows


@pytest.fixture(scope="module")
def transformed(dummyjson_dir: Path, s3_emulator: S3Emulator) -> dict[str, Any]:
    """Land the corpus carts with the real users (plus non-ASCII ones) and products, run the job, read its output."""
    users = json.loads((dummyjson_dir / "users.json").read_text())["users"]
    users += [user for user in corpus("users_non_ascii.json", "users") if user["email"].strip()]
    products = json.loads((dummyjson_dir / "products.json").read_text())["products"]
    carts = corpus("carts_duplicate_ids.json", "carts") + corpus("carts_unknown_refs.json", "carts")
    carts += corpus("carts_bad_quantities_prices.json", "carts")
    carts.append({"id": 81, "userId": 9002, "products": [{"id": 1, "title": "x", "price": 9.99, "quantity": 2}]})
    buckets = {"raw": "raw-bad-transform", "curated": "curated-bad-transform"}
    s3_emulator.create_buckets(buckets.values())
    with ApiServer(MemorySource({"users": users, "products": products, "carts": carts})) as api:
        settings = load_settings(run_date=RUN_DATE).updated(
            api={"base_url": api.url, "page_size": 100},
            storage={
                "raw_bucket": buckets["raw"],
                "curated_bucket": buckets["curated"],
                "aws_endpoint_url": s3_emulator.endpoint_url,
            },
        )
        landed = {resource: ingest_resource(settings, resource, RUN_ID) for resource in ("users", "products", "carts")}
    summary = LocalSparkLauncher(settings).run(JobRequest.from_settings(settings, RUN_ID))
    client = s3_emulator.client()
    return {
        "landed": landed,
        "summary": summary,
        "orders": {row["order_id"]: row for row in parquet_rows(client, buckets["curated"], "orders/")},
        "quarantine": parquet_rows(client, buckets["curated"], "quarantine/orders/"),
    }


def test_bad_lines_are_quarantined_by_reason_and_every_valid_line_arrives(transformed: dict[str, Any]) -> None:
    assert transformed["landed"]["carts"].quarantined == 5  # the zero and negative quantities and prices
    valid_lines = ["ORD-26-2", "ORD-26-3", "ORD-41-1", "ORD-42-2", "ORD-52-2", "ORD-53-3", "ORD-81-1"]
    assert sorted(transformed["orders"]) == valid_lines
    reasons = sorted((row["cart_id"], row["product_id"], row["reason"]) for row in transformed["quarantine"])
    assert reasons == [(51, 1, "unknown_customer"), (52, 999_999, "unknown_product")]
    summary = transformed["summary"]
    assert summary.quarantined_by_reason == {"unknown_customer": 1, "unknown_product": 1}
    assert (summary.rows_read, summary.rows_written, summary.duplicates_removed) == (10, 7, 1)


def test_the_copy_of_a_duplicated_cart_landed_last_wins(transformed: dict[str, Any]) -> None:
    assert transformed["orders"]["ORD-41-1"]["quantity"] == 4
    assert transformed["orders"]["ORD-41-1"]["revenue"] == Decimal("39.96")


def test_non_ascii_text_and_exact_money_reach_the_curated_zone(transformed: dict[str, Any]) -> None:
    order = transformed["orders"]["ORD-81-1"]
    assert (order["customer_name"], order["city"], order["country"]) == ("山田 太郎", "東京", "日本")
    big = transformed["orders"]["ORD-26-3"]
    assert (big["unit_price"], big["quantity"], big["revenue"]) == (Decimal("1234.56"), 7, Decimal("8641.92"))
    assert big["revenue"] == big["cost_price"] * big["quantity"] + big["profit"]
