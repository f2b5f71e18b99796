"""The pipeline's data products as Prefect assets: their keys, their lineage, and the figures each run adds.

Keys are the real locations, built from the run's Settings, so each profile gets its own:

    <api base_url>/<resource>                               the source endpoint (external: read, never written)
    s3://<raw_bucket>/<raw_prefix>/<resource>               the raw zone of one resource
    s3://<curated_bucket>/<curated_prefix>                  curated orders (Parquet)
    s3://<curated_bucket>/<quarantine_prefix>/<curated_prefix>   the rows the Spark job rejected
    snowflake://<account>/<DATABASE>/<SCHEMA>/ORDERS        the warehouse table
    snowflake://<account>/<DATABASE>/<SCHEMA>/<VIEW>        each view, one per sql/views/<view>.sql

Choices a reader of the asset graph would otherwise wonder about:

- The local API listens on a new random loopback port at every start. A key with the port would add three new
  source nodes to the graph on every run, and each day's raw zone would hang off a different one. What a user
  wants to see is "the API on this machine", one node per endpoint, so any loopback host (localhost, 127.0.0.0/8,
  ::1) is written `http://localhost/<resource>`, without the port. Other hosts (compose's `http://api:8000`,
  `https://dummyjson.com`) are kept as configured.
- Snowflake identifiers are upper-cased, as Snowflake stores unquoted names, and the account lower-cased (it is
  case-insensitive): `SNOWFLAKE_DATABASE=ecom` and `ECOM` name one table, so they give one asset.
- The views are `ecom_pipeline.warehouse.views.ANALYTICS_VIEWS`, one per file of sql/views/ (the file creates the
  view it is named after): a new view file is a new asset, with no second list to keep in step.
- Only the aws profile's assets get a `url`: an S3 console link and the public API. Emulator endpoints are gone
  after the run, and a Snowsight link depends on the account's organisation, which Settings does not hold.

Lineage is declared, never inferred: each plan below names what one task call materializes and its upstream
assets, `materializing` gives a task those for one call (Prefect's `MaterializingTask.with_options`; `@materialize`
would fix the keys at import), and `asset_graph` draws the same plans as nodes and edges. Prefect infers upstream
assets from task results passed as arguments; our tasks pass each other run figures (summaries) while the data moves
through S3 and Snowflake, so inference would draw false edges (every view "depending" on the raw zone through the run
summary; in a trial run it even made the carts landing depend on the users and products raw zones). The flows
therefore pass arguments `quote`d, Prefect's annotation that turns dependency tracking off for a value. The cost:
the flow-run graph draws no arrow between these task runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from prefect.assets import Asset, AssetProperties, add_asset_metadata
from prefect.tasks import MaterializingTask

from ecom_pipeline.land.landing import LandingResult
from ecom_pipeline.settings import RESOURCES, Profile, Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.loader import LoadResult
from ecom_pipeline.warehouse.report import Report
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def view_names() -> tuple[str, ...]:
    """The analytics views, one per file of sql/views/ (the warehouse package's list)."""
    return tuple(view.name for view in ANALYTICS_VIEWS)


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def source_base(base_url: str) -> str:
    """The source API's base as it appears in keys: a loopback host is `http://localhost`, without its port."""
    parts = urlsplit(base_url.rstrip("/"))
    if parts.hostname and _is_loopback(parts.hostname):
        return f"http://localhost{parts.path}"
    return base_url.rstrip("/")


def _s3_console(settings: Settings, uri: str) -> str | None:
    """The S3 console page of an `s3://bucket/prefix` location, on the aws profile only."""
    if settings.profile is not Profile.AWS:
        return None
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return (
        f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}"
        f"?region={settings.storage.aws_region}&prefix={prefix}/&showversions=false"
    )


def source_asset(settings: Settings, resource: str) -> Asset:
    """One endpoint of the source API (external: the pipeline reads it, never writes it)."""
    url = settings.api.base_url.rstrip("/") + f"/{resource}"
    return Asset(
        key=f"{source_base(settings.api.base_url)}/{resource}",
        properties=AssetProperties(
            name=f"source /{resource}",
            description=f"DummyJSON-compatible API, `/{resource}`, read page by page (`limit`/`skip`).",
            url=url if settings.profile is Profile.AWS else None,
        ),
    )


def raw_asset(settings: Settings, resource: str) -> Asset:
    """The raw zone of one resource: what the API sent, minus sensitive fields."""
    key = f"{settings.storage.raw_uri()}/{resource}"
    return Asset(
        key=key,
        properties=AssetProperties(
            name=f"raw {resource}",
            description=(
                f"Gzipped NDJSON of `/{resource}` as received, sensitive fields removed, one folder per ingest date; "
                "`_manifest.json` names the committed run, invalid records go to `quarantine-*` parts."
            ),
            url=_s3_console(settings, key),
        ),
    )


def curated_asset(settings: Settings) -> Asset:
    """Curated orders: one row per cart line, partitioned by order date."""
    key = settings.storage.curated_uri()
    return Asset(
        key=key,
        properties=AssetProperties(
            name="curated orders",
            description=(
                "Snappy Parquet, one order per cart line, partitioned by `order_date`; revenue, cost and profit "
                "computed by the Spark job as DECIMAL(12,2)."
            ),
            url=_s3_console(settings, key),
        ),
    )


def quarantine_asset(settings: Settings) -> Asset:
    """Cart lines the Spark job rejected, each with its reason."""
    key = settings.storage.quarantine_uri()
    return Asset(
        key=key,
        properties=AssetProperties(
            name="quarantined order lines",
            description="Parquet, partitioned by ingest date: cart lines that broke a rule, with a `reason` column.",
            url=_s3_console(settings, key),
        ),
    )


def _warehouse_key(settings: Settings, name: str) -> str:
    snowflake = settings.snowflake
    return (
        f"snowflake://{snowflake.account.lower()}/{snowflake.database.upper()}/"
        f"{snowflake.schema_name.upper()}/{name.upper()}"
    )


def orders_table_asset(settings: Settings) -> Asset:
    """The warehouse's `orders` table."""
    return Asset(
        key=_warehouse_key(settings, "orders"),
        properties=AssetProperties(
            name="warehouse orders",
            description="COPY INTO staging, then MERGE on `order_id`, reconciled with the curated files in one "
            "transaction.",
        ),
    )


def view_assets(settings: Settings) -> tuple[Asset, ...]:
    """One asset per analytics view."""
    return tuple(
        Asset(
            key=_warehouse_key(settings, view),
            properties=AssetProperties(name=view, description=f"Analytics view `{view}` over `orders`."),
        )
        for view in view_names()
    )


# Plans: what one call of each task materializes.


@dataclass(frozen=True)
class Materialization:
    """What one task call materializes, from which upstream assets, by which tool (Prefect's `materialized_by`)."""

    stage: str
    assets: tuple[Asset, ...]
    upstream: tuple[Asset, ...] = ()
    by: str | None = None


P = ParamSpec("P")
R = TypeVar("R")


def materializing(task: MaterializingTask[P, R], plan: Materialization) -> MaterializingTask[P, R]:
    """A copy of `task` that materializes what `plan` says, from its upstream assets, by its tool."""
    planned = task.with_options(assets=list(plan.assets), asset_deps=list(plan.upstream))
    planned.materialized_by = plan.by
    return planned


def landing(settings: Settings, resource: str) -> Materialization:
    """fetch-and-land: the raw zone of `resource`, from its source endpoint."""
    return Materialization("fetch-and-land", (raw_asset(settings, resource),), (source_asset(settings, resource),))


def transformation(settings: Settings) -> Materialization:
    """transform: curated orders and quarantine, from the raw zone of every resource (the job reads all three)."""
    by = "aws-glue" if settings.profile is Profile.AWS else "spark"
    raw = tuple(raw_asset(settings, resource) for resource in RESOURCES)
    return Materialization("transform", (curated_asset(settings), quarantine_asset(settings)), raw, by)


def warehouse_load(settings: Settings) -> Materialization:
    """snowflake-load: the orders table, from curated orders."""
    return Materialization("snowflake-load", (orders_table_asset(settings),), (curated_asset(settings),), "snowflake")


def reporting(settings: Settings) -> Materialization:
    """report: every view, read (and so confirmed) after the load, from the orders table."""
    return Materialization("report", view_assets(settings), (orders_table_asset(settings),), "snowflake")


def plans(settings: Settings) -> list[Materialization]:
    """Every task call of one run, in flow order."""
    return [
        *(landing(settings, resource) for resource in settings.resources),
        transformation(settings),
        warehouse_load(settings),
        reporting(settings),
    ]


def asset_graph(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """The lineage as data: `nodes` (key, name, description, stage or None when external) and `edges` (from, to)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []
    for plan in plans(settings):
        for asset in plan.upstream:
            nodes.setdefault(asset.key, _node(asset, None))
        for asset in plan.assets:
            nodes[asset.key] = _node(asset, plan.stage)
            edges += [{"from": upstream.key, "to": asset.key} for upstream in plan.upstream]
    return {"nodes": list(nodes.values()), "edges": edges}


def asset_graph_mermaid(settings: Settings) -> str:
    """`asset_graph` as a Mermaid flowchart (docs/prefect.md shows the local profile's; GitHub renders it)."""
    graph = asset_graph(settings)
    ids = {node["key"]: f"a{index}" for index, node in enumerate(graph["nodes"])}
    lines = ["flowchart LR"]
    for node in graph["nodes"]:
        label = f"{node['name']}<br/>{node['key']}".replace('"', "'")
        lines.append(f'    {ids[node["key"]]}["{label}"]')
    lines += [f"    {ids[edge['from']]} --> {ids[edge['to']]}" for edge in graph["edges"]]
    return "\n".join(lines) + "\n"


def _node(asset: Asset, stage: str | None) -> dict[str, Any]:
    properties = asset.properties or AssetProperties()
    return {"key": asset.key, "name": properties.name, "description": properties.description, "stage": stage}


# Figures: the run's numbers on each materialization (money as exact strings, as in the run summary).


def _run(settings: Settings, run_id: str | None) -> dict[str, Any]:
    return {"run_id": run_id, "run_date": settings.run_date.isoformat()}


def landed_figures(settings: Settings, run_id: str, landed: LandingResult) -> dict[str, Any]:
    """Per asset key: what one resource's landing committed."""
    return {
        raw_asset(settings, landed.resource).key: {
            **_run(settings, run_id),
            "rows": landed.records,
            "quarantined": landed.quarantined,
            "partitions": [landed.ingest_date.isoformat()],
            "bytes": landed.bytes,
            "parts": len(landed.parts),
            "reused_parts": landed.reused_parts,
            "content_sha256": landed.content_sha256,
        }
    }


def transformed_figures(settings: Settings, run_id: str, job: JobSummary) -> dict[str, Any]:
    """Per asset key: the Spark job's summary; `job_run_id` is the run whose job wrote the files (reused output)."""
    common = {**_run(settings, run_id), "reused": job.reused, "job_run_id": job.run_id}
    return {
        curated_asset(settings).key: {
            **common,
            "rows": job.rows_written,
            "revenue": str(job.revenue_written),
            "profit": str(job.profit_written),
            "partitions": job.partitions_written,
            "quarantined": job.rows_quarantined,
            "duplicates_removed": job.duplicates_removed,
        },
        quarantine_asset(settings).key: {
            **common,
            "rows": job.rows_quarantined,
            "quarantined": job.rows_quarantined,
            "partitions": [job.ingest_date],
            "reasons": job.quarantined_by_reason,
        },
    }


def loaded_figures(settings: Settings, run_id: str, loaded: LoadResult, job: JobSummary) -> dict[str, Any]:
    """Per asset key: the load's audit figures (a skipped load shows the curated totals `orders` already held)."""
    return {
        orders_table_asset(settings).key: {
            **_run(settings, run_id),
            "rows": loaded.rows_staged,
            "revenue": str(loaded.revenue_staged),
            "partitions": list(loaded.partitions),
            "quarantined": job.rows_quarantined,
            "inserted": loaded.rows_inserted,
            "updated": loaded.rows_updated,
            "deleted": loaded.rows_deleted,
            "skipped": loaded.skipped,
        }
    }


def reported_figures(settings: Settings, run_id: str | None, report: Report) -> dict[str, Any]:
    """Per asset key: the KPIs every view reflects after the run (they cover all of `orders`, not one day)."""
    kpis = report.kpis_json()
    return {asset.key: {**_run(settings, run_id), **kpis} for asset in view_assets(settings)}


def record(figures: Mapping[str, Mapping[str, Any]]) -> None:
    """Attach figures to the running task's materializations (inside a task `materializing` planned)."""
    for key, metadata in figures.items():
        add_asset_metadata(key, dict(metadata))
