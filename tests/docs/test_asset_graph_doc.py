"""docs/prefect.md's asset graph is the one the flow declares, not a drawing that can drift from it."""

from __future__ import annotations

import re
from pathlib import Path

from ecom_pipeline.settings import Settings
from flows.assets import asset_graph_mermaid

DOC = Path(__file__).resolve().parents[2] / "docs" / "prefect.md"


def test_the_documented_asset_graph_is_the_local_profiles_declared_graph() -> None:
    match = re.search(r"<!-- asset-graph: local -->\n```mermaid\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/prefect.md lost its asset graph block"
    # What `ecom-pipeline run` declares: the embedded API on a loopback port, the default buckets and warehouse.
    local = Settings(_env_file=None).updated(api={"base_url": "http://127.0.0.1:8000"})
    assert match.group(1) == asset_graph_mermaid(local)


def test_the_graph_draws_every_edge_from_raw_to_each_view() -> None:
    mermaid = asset_graph_mermaid(Settings(_env_file=None))
    nodes = dict(re.findall(r'^\s+(a\d+)\["[^<]*<br/>([^"]+)"\]$', mermaid, re.M))
    edges = {(nodes[a], nodes[b]) for a, b in re.findall(r"^\s+(a\d+) --> (a\d+)$", mermaid, re.M)}
    assert ("s3://ecom-raw/dummyjson/carts", "s3://ecom-curated/orders") in edges
    assert ("s3://ecom-curated/orders", "snowflake://local/ECOM/ANALYTICS/ORDERS") in edges
    views = {target for source, target in edges if source.endswith("/ORDERS")}
    assert {view.rsplit("/", 1)[1] for view in views} == {
        "VW_DAILY_REVENUE", "VW_KPIS", "VW_ORDER_STATUS", "VW_SALES_BY_CATEGORY", "VW_SALES_BY_COUNTRY",
        "VW_TOP_CUSTOMERS",
    }  # fmt: skip
