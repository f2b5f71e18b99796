"""The curated contract, in plain Python: every column of the curated files, in file order, with its Spark SQL type and
whether it may be null (not null: what the quarantine rules guarantee and `orders` requires).

schema.py builds the job's CURATED_SCHEMA from it; the warehouse loader reads the column names from here, so loading
needs no pyspark (a deployment that runs the job on AWS Glue has none). The warehouse DDL, the DuckDB reference, the
docs' table and the test data are tested against it (tests/test_curated_contract.py), because COPY ...
MATCH_BY_COLUMN_NAME loads a renamed column as NULL, silently.
"""

from __future__ import annotations

# (name, Spark SQL type, nullable)
CURATED_CONTRACT: tuple[tuple[str, str, bool], ...] = (
    ("order_id", "string", False),
    ("cart_id", "bigint", False),
    ("product_id", "bigint", False),
    ("customer_id", "bigint", False),
    ("product_title", "string", True),
    ("category", "string", True),
    ("brand", "string", True),
    ("customer_name", "string", True),
    ("customer_email", "string", True),
    ("city", "string", True),
    ("state", "string", True),
    ("country", "string", True),
    ("quantity", "int", False),
    ("unit_price", "decimal(12,2)", False),
    ("discount_percentage", "decimal(5,2)", True),
    ("discounted_revenue", "decimal(12,2)", True),
    ("revenue", "decimal(12,2)", False),
    ("cost_price", "decimal(12,2)", False),
    ("profit", "decimal(12,2)", False),
    ("order_status", "string", True),
    ("ingested_at", "timestamp", True),
    ("run_id", "string", True),
    ("order_date_copy", "date", False),  # the partition's order_date, inside the files
)
CURATED_COLUMNS = tuple(name for name, _type, _nullable in CURATED_CONTRACT)
