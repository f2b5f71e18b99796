"""Asset lineage: keys per profile (plain unit tests), and what the two clean runs recorded in the Prefect API."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker

from ecom_pipeline.settings import ApiSettings, Profile, Settings, SnowflakeSettings, StorageSettings
from flows import assets, pipeline


def profile_settings(profile: Profile, base_url: str, account: str, database: str, schema: str) -> Settings:
    """Settings with every name a key is built from given here, whatever the environment says."""
    return Settings(
        profile=profile,
        api=ApiSettings(base_url=base_url),
        storage=StorageSettings(
            raw_bucket="ecom-raw",
            curated_bucket="ecom-curated",
            raw_prefix="dummyjson",
            curated_prefix="orders",
            quarantine_prefix="quarantine",
            aws_region="eu-west-1",
        ),
        snowflake=SnowflakeSettings(account=account, database=database, schema_name=schema),
    )


LOCAL = profile_settings(Profile.LOCAL, "http://127.0.0.1:49731", "local", "ECOM", "ANALYTICS")
COMPOSE = profile_settings(Profile.COMPOSE, "http://api:8000", "local", "ECOM", "ANALYTICS")
AWS = profile_settings(Profile.AWS, "https://dummyjson.com/", "MyOrg-Prod1", "ecom_prod", "analytics")
# profile -> (settings, the source's key base, the warehouse's key base)
PROFILES = {
    "local": (LOCAL, "http://localhost", "snowflake://local/ECOM/ANALYTICS"),
    "compose": (COMPOSE, "http://api:8000", "snowflake://local/ECOM/ANALYTICS"),
    "aws": (AWS, "https://dummyjson.com", "snowflake://myorg-prod1/ECOM_PROD/ANALYTICS"),
}


def expected_upstream(source: str, raw: str, curated: str, quarantine: str, warehouse: str) -> dict[str, set[str]]:
    """Each materialized key -> its upstream keys, written out by hand (the lineage the issue asks for)."""
    raw_zone = {f"{raw}/{resource}" for resource in ("users", "products", "carts")}
    views = [view.upper() for view in assets.view_names()]
    return {
        **{f"{raw}/{resource}": {f"{source}/{resource}"} for resource in ("users", "products", "carts")},
        curated: raw_zone,
        quarantine: raw_zone,
        f"{warehouse}/ORDERS": {curated},
        **{f"{warehouse}/{view}": {f"{warehouse}/ORDERS"} for view in views},
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_asset_graph_uses_each_profiles_real_locations(profile: str) -> None:
    settings, source, warehouse = PROFILES[profile]
    graph = assets.asset_graph(settings)
    upstream: dict[str, set[str]] = {}
    for edge in graph["edges"]:
        upstream.setdefault(edge["to"], set()).add(edge["from"])
    assert upstream == expected_upstream(
        source, "s3://ecom-raw/dummyjson", "s3://ecom-curated/orders", "s3://ecom-curated/quarantine/orders", warehouse
    )
    external = {node["key"] for node in graph["nodes"] if node["stage"] is None}
    assert external == {f"{source}/{resource}" for resource in ("users", "products", "carts")}
    stages = {node["key"]: node["stage"] for node in graph["nodes"]}
    assert stages["s3://ecom-raw/dummyjson/carts"] == "fetch-and-land"
    assert stages[f"{warehouse}/VW_KPIS"] == "report"


def test_only_the_aws_profile_links_assets_to_consoles() -> None:
    def urls(settings: Settings) -> list[str | None]:
        linked = (assets.raw_asset(settings, "carts"), assets.source_asset(settings, "carts"))
        return [asset.properties.url if asset.properties else None for asset in linked]

    assert urls(AWS) == [
        "https://s3.console.aws.amazon.com/s3/buckets/ecom-raw?region=eu-west-1&prefix=dummyjson/carts/"
        "&showversions=false",
        "https://dummyjson.com/carts",
    ]
    assert urls(LOCAL) == urls(COMPOSE) == [None, None]


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:49731", "http://127.0.0.1:8000/", "http://localhost:1234", "http://[::1]:5000"]
)
def test_a_loopback_source_has_one_key_whatever_its_port(base_url: str) -> None:
    assert assets.source_base(base_url) == "http://localhost"
    assert assets.source_base("http://127.0.0.1:8000/api/v2") == "http://localhost/api/v2"
    assert assets.source_base("http://api:8000") == "http://api:8000"


def test_every_analytics_view_is_an_asset() -> None:
    views = {asset.key: asset.properties.name for asset in assets.view_assets(LOCAL) if asset.properties}
    names = ("vw_sales_by_category", "vw_top_customers", "vw_order_status", "vw_sales_by_country", "vw_daily_revenue")
    assert views == {f"snowflake://local/ECOM/ANALYTICS/{name.upper()}": name for name in (*names, "vw_kpis")}


def test_each_call_runs_a_copy_with_its_plans_assets() -> None:
    calls = [
        (pipeline.fetch_and_land, assets.landing(LOCAL, "carts")),
        (pipeline.run_transform, assets.transformation(LOCAL)),
        (pipeline.load_warehouse, assets.warehouse_load(LOCAL)),
        (pipeline.build_report, assets.reporting(LOCAL)),
    ]
    for task, plan in calls:
        assert (task.name, task.assets) == (plan.stage, [])
        for variant in (task, task.with_options(retries=0)):
            planned = assets.materializing(variant, plan)
            assert [asset.key for asset in planned.assets] == [asset.key for asset in plan.assets], task.name
            assert [asset.key for asset in planned.asset_deps] == [asset.key for asset in plan.upstream], task.name
            assert (planned.materialized_by, planned.retries, planned.name) == (plan.by, variant.retries, task.name)
            assert (variant.assets, variant.asset_deps, variant.materialized_by) == ([], [], None)  # a copy
    landing = assets.materializing(pipeline.fetch_and_land.with_options(retries=0), assets.landing(LOCAL, "carts"))
    assert ([asset.key for asset in landing.assets], landing.retries) == (["s3://ecom-raw/dummyjson/carts"], 0)


# Against the Prefect API: the events the two clean runs (tests/flows/conftest.py) left on the harness server.


def materializations(flow_run_id: Any, expected: int) -> dict[str, Event]:
    """The run's materialization events by asset key, once the server has persisted `expected` of them."""
    EventsWorker.drain_all()  # events leave this process in the background: send what is queued

    def wanted() -> EventFilter:  # built per request: its time window ends when it is made
        return EventFilter(
            event=EventNameFilter(prefix=["prefect.asset.materialization."]),
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        )

    deadline = time.monotonic() + 60  # the server's event persister writes in batches, every few seconds
    with get_client(sync_client=True) as client:
        while True:
            events = client.read_events(filter=wanted(), limit=50)
            if len(events.events) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    by_key = {event.resource.id: event for event in events.events}
    assert len(by_key) == len(events.events), "one materialization per asset and run"
    return by_key


def upstream_of(event: Event) -> set[str]:
    return {related.id for related in event.related if related.role == "asset"}


def run_locations(summary: dict[str, Any]) -> dict[str, str]:
    """The keys of the run's lake: flow_support names the buckets `raw-<lake>` and `curated-<lake>`."""
    match = re.fullmatch(
        r"s3://raw-(\w+)/dummyjson/carts/ingest_date=2026-06-17/", summary["resources"]["carts"]["location"]
    )
    assert match, summary["resources"]["carts"]["location"]
    lake = match.group(1)
    return {
        "source": "http://localhost",
        "raw": f"s3://raw-{lake}/dummyjson",
        "curated": f"s3://curated-{lake}/orders",
        "quarantine": f"s3://curated-{lake}/quarantine/orders",
        "warehouse": "snowflake://local/ECOM/ANALYTICS",
    }


def test_a_run_records_the_lineage_and_its_figures_in_prefect(clean_runs) -> None:
    state, result, _ = clean_runs[0]
    summary = result.model_dump(mode="json")  # the figures as the run's JSON has them
    where = run_locations(summary)
    graph = expected_upstream(**where)
    events = materializations(state.state_details.flow_run_id, expected=len(graph))

    assert {key: upstream_of(event) for key, event in events.items()} == graph
    assert {event.event for event in events.values()} == {"prefect.asset.materialization.succeeded"}
    assert events[where["curated"]].resource.name == "curated orders"
    tools = {related.id for related in events[where["curated"]].related if related.role == "asset-materialized-by"}
    assert tools == {"spark"}

    run = {"run_id": summary["run_id"], "run_date": "2026-06-17"}
    for resource, landed in summary["resources"].items():
        raw = events[f"{where['raw']}/{resource}"].payload
        assert raw["rows"] == landed["records"] and raw["quarantined"] == landed["quarantined"]
        assert {key: raw[key] for key in ("run_id", "run_date", "partitions")} == {**run, "partitions": ["2026-06-17"]}
    assert events[f"{where['raw']}/carts"].payload["rows"] == 208

    transform, warehouse = summary["transform"], summary["warehouse"]
    curated = events[where["curated"]].payload
    assert curated["rows"] == transform["rows_written"] == 800
    assert curated["revenue"] == transform["revenue_written"] == summary["kpis"]["total_revenue"]
    assert curated["partitions"] == transform["partitions_written"]
    assert curated["quarantined"] == transform["rows_quarantined"]
    assert (curated["reused"], curated["run_id"], curated["run_date"]) == (False, summary["run_id"], "2026-06-17")
    quarantine = events[where["quarantine"]].payload
    assert (quarantine["rows"], quarantine["reasons"]) == (
        transform["rows_quarantined"],
        transform["quarantined_by_reason"],
    )

    orders = events[f"{where['warehouse']}/ORDERS"].payload
    assert (orders["rows"], orders["revenue"], orders["partitions"]) == (
        800,
        transform["revenue_written"],
        warehouse["partitions"],
    )
    assert (orders["inserted"], orders["skipped"], orders["run_id"]) == (800, False, summary["run_id"])

    for view in assets.view_names():
        figures = events[f"{where['warehouse']}/{view.upper()}"].payload
        assert figures == {**run, **summary["kpis"]}, view


def test_a_rerun_records_reused_output_and_a_skipped_load(clean_runs) -> None:
    (_, first_run, _), (state, second_run, _) = clean_runs
    first, second = first_run.model_dump(mode="json"), second_run.model_dump(mode="json")
    where = run_locations(second)
    events = materializations(state.state_details.flow_run_id, expected=len(expected_upstream(**where)))
    curated = events[where["curated"]].payload
    assert (curated["reused"], curated["job_run_id"], curated["run_id"]) == (True, first["run_id"], second["run_id"])
    assert (curated["rows"], curated["revenue"]) == (800, first["transform"]["revenue_written"])
    orders = events[f"{where['warehouse']}/ORDERS"].payload
    assert (orders["skipped"], orders["inserted"], orders["updated"], orders["rows"]) == (True, 0, 0, 800)
    assert orders["revenue"] == first["warehouse"]["revenue_staged"]
    carts = events[f"{where['raw']}/carts"].payload
    assert carts["reused_parts"] == second["resources"]["carts"]["reused_parts"] >= 1
