"""Transform reference: the orders job's enrichment and cleaning as one DuckDB query over the same raw files.

`python -m bench.duckdb_reference --raw DIR --ingest-date D --out DIR` reads the manifests under DIR (the raw
zone's layout), classifies every cart line like the orders job, spark_jobs/orders/ (latest cart copy wins, repeated
products numbered, latest user and product joined, exact decimals, the same quarantine rules), and writes the
same Snappy Parquet: curated orders partitioned by order_date, plus the quarantine. It prints a summary with
the same counts and totals as the job's, so the harness can check that both produced the same result.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from bench.stages import RESULT_PREFIX

# The job's business defaults (spark_jobs/orders/args.py), restated so this process never imports pyspark: the
# harness compares the two processes' time and memory. tests/test_curated_contract.py keeps them equal.
DEFAULT_COST_RATIO = "0.6"
DEFAULT_ORDER_STATUS = "completed"

LINE = (
    "STRUCT(id BIGINT, title VARCHAR, price DECIMAL(12,2), quantity INTEGER, total DECIMAL(12,2), "
    "discountPercentage DECIMAL(5,2), discountedTotal DECIMAL(12,2))"
)
COLUMNS = {
    "carts": {"id": "BIGINT", "userId": "BIGINT", "date": "VARCHAR", "status": "VARCHAR", "products": f"{LINE}[]"},
    "products": {"id": "BIGINT", "title": "VARCHAR", "category": "VARCHAR", "brand": "VARCHAR"},
    "users": {
        "id": "BIGINT",
        "firstName": "VARCHAR",
        "lastName": "VARCHAR",
        "email": "VARCHAR",
        "address": "STRUCT(city VARCHAR, state VARCHAR, country VARCHAR)",
    },
}

CLASSIFY_SQL = """
create temp table classified as
with carts as (
    select *, row_number() over () as source_position from {carts}
),
flagged as (
    select *, id is not null and row_number() over (
        partition by id order by filename desc, source_position desc) > 1 as is_duplicate
    from carts
),
lines as (
    select id as cart_id, userId as customer_id, date as cart_date, status as cart_status, filename,
           source_position, is_duplicate, unnest(products) as line, unnest(range(1, len(products) + 1)) as pos
    from flagged
),
numbered as (
    select *, line.id as product_id,
           row_number() over (partition by filename, source_position, line.id order by pos) as occurrence
    from lines
),
products as (
    select id as product_id, nullif(trim(title), '') as product_title, nullif(trim(category), '') as category,
           nullif(trim(brand), '') as brand
    from (select *, row_number() over (partition by id order by filename desc) as latest from {products}
          where id is not null)
    where latest = 1
),
users as (
    select id as customer_id,
           nullif(trim(concat_ws(' ', nullif(trim(firstName), ''), nullif(trim(lastName), ''))), '') as customer_name,
           nullif(trim(email), '') as customer_email, nullif(trim(address.city), '') as city,
           nullif(trim(address.state), '') as state, nullif(trim(address.country), '') as country
    from (select *, row_number() over (partition by id order by filename desc) as latest from {users}
          where id is not null)
    where latest = 1
),
enriched as (
    select
        'ORD-' || n.cart_id || '-' || n.product_id || case when occurrence > 1 then '-' || occurrence else '' end
            as order_id,
        n.cart_id, n.product_id, n.customer_id,
        coalesce(p.product_title, nullif(trim(n.line.title), '')) as product_title,
        coalesce(p.category, 'Unknown') as category, coalesce(p.brand, 'Unknown') as brand,
        coalesce(u.customer_name, 'Unknown') as customer_name, coalesce(u.customer_email, 'Unknown') as customer_email,
        coalesce(u.city, 'Unknown') as city, coalesce(u.state, 'Unknown') as state,
        coalesce(u.country, 'Unknown') as country,
        n.line.quantity as quantity, n.line.price as unit_price,
        n.line.discountPercentage as discount_percentage, n.line.discountedTotal as discounted_revenue,
        cast(n.line.price * n.line.quantity as decimal(12,2)) as revenue,
        cast(round(n.line.price * cast('{cost_ratio}' as decimal(7,6)), 2) as decimal(12,2)) as cost_price,
        coalesce(nullif(trim(n.cart_status), ''), '{default_status}') as order_status,
        '{ingested_at}+00'::timestamptz as ingested_at, '{run_id}' as run_id,
        try_cast(nullif(trim(n.cart_date), '') as date) as parsed_date,
        nullif(trim(n.cart_date), '') is not null and parsed_date is null as order_date_invalid,
        coalesce(parsed_date, date '{ingest_date}') as order_date,
        p.product_id is not null as product_known, u.customer_id is not null as customer_known,
        n.is_duplicate
    from numbered n
    left join products p on p.product_id = n.product_id
    left join users u on u.customer_id = n.customer_id
)
select * exclude (parsed_date, product_known, customer_known, order_date_invalid),
    cast((unit_price - cost_price) * quantity as decimal(12,2)) as profit,
    order_date as order_date_copy,
    case
        when cart_id is null or product_id is null or customer_id is null then 'null_key'
        when not product_known then 'unknown_product'
        when not customer_known then 'unknown_customer'
        when quantity is null or quantity <= 0 then 'invalid_quantity'
        when unit_price is null or unit_price <= 0 then 'invalid_unit_price'
        when product_title is null then 'missing_product_title'
        when order_date_invalid then 'invalid_order_date'
    end as reason
from enriched
"""

CURATED_COLUMNS = (
    "order_id, cart_id, product_id, customer_id, product_title, category, brand, customer_name, customer_email, "
    "city, state, country, quantity, unit_price, discount_percentage, discounted_revenue, revenue, cost_price, "
    "profit, order_status, ingested_at, run_id, order_date_copy"
)


def _reader(raw: Path, resource: str, ingest_date: str) -> str:
    """`read_json([...parts...], columns=...)` for the parts the resource's manifest lists."""
    folder = raw / resource / f"ingest_date={ingest_date}"
    manifest = json.loads((folder / "_manifest.json").read_text())
    files = ", ".join(f"'{folder / part['file']}'" for part in manifest["parts"])
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS[resource].items())
    return f"read_json([{files}], format='newline_delimited', columns={{{columns}}}, filename=true)"


def run(raw: Path, out: Path, ingest_date: str, cost_ratio: str, run_id: str, threads: int) -> dict[str, Any]:
    """Classify, write curated and quarantine Parquet under `out`, return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"threads": threads})
    readers = {resource: _reader(raw, resource, ingest_date) for resource in COLUMNS}
    connection.execute(
        CLASSIFY_SQL.format(
            **readers,
            cost_ratio=cost_ratio,
            default_status=DEFAULT_ORDER_STATUS,
            ingested_at=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            run_id=run_id,
            ingest_date=ingest_date,
        )
    )
    connection.execute(
        f"copy (select {CURATED_COLUMNS}, order_date from classified where not is_duplicate and reason is null) "
        f"to '{out / 'orders'}' (format parquet, compression snappy, partition_by (order_date), overwrite_or_ignore)"
    )
    connection.execute(
        f"copy (select {CURATED_COLUMNS}, order_date, reason from classified where not is_duplicate "
        f"and reason is not null) to '{out / 'quarantine.parquet'}' (format parquet, compression snappy)"
    )
    written, revenue, profit, quarantined, duplicates = connection.execute(
        "select count(*) filter (where not is_duplicate and reason is null),"
        " coalesce(sum(revenue) filter (where not is_duplicate and reason is null), 0),"
        " coalesce(sum(profit) filter (where not is_duplicate and reason is null), 0),"
        " count(*) filter (where not is_duplicate and reason is not null),"
        " count(*) filter (where is_duplicate) from classified"
    ).fetchone()
    return {
        "rows": written + quarantined + duplicates,
        "rows_written": written,
        "rows_quarantined": quarantined,
        "duplicates_removed": duplicates,
        "revenue_written": str(Decimal(revenue).quantize(Decimal("0.01"))),
        "profit_written": str(Decimal(profit).quantize(Decimal("0.01"))),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; prints one BENCH_RESULT line."""
    parser = argparse.ArgumentParser(prog="bench.duckdb_reference")
    parser.add_argument("--raw", type=Path, required=True, help="Folder holding <resource>/ingest_date=D/.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ingest-date", required=True)
    parser.add_argument("--cost-ratio", default=DEFAULT_COST_RATIO)
    parser.add_argument("--run-id", default="bench-duckdb")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run(args.raw, args.out, args.ingest_date, args.cost_ratio, args.run_id, args.threads)
    print(RESULT_PREFIX + json.dumps({**result, "seconds": time.monotonic() - started}), flush=True)


if __name__ == "__main__":
    main()
