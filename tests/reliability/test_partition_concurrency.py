"""Two runs of different ingest dates whose carts share order dates: their transforms and loads never interleave.

Each run serves its own synthetic carts (another seed: the same cart ids, other lines) dated over four days, two of
them shared, so both jobs rewrite the shared `order_date` partitions and both loads clean-replace those warehouse
dates.
Started at the same moment on shared emulators, the two must leave the warehouse exactly as the same two runs do
one after the other (in the order the lock was granted), order by order.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from reliability_support import LogCapture, open_lake

from ecom_local.api.server import ApiServer
from ecom_local.api.synthetic import SyntheticSource
from ecom_pipeline.settings import load_settings
from ecom_pipeline.summary import RunSummary
from ecom_pipeline.warehouse.connection import connect
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline

RUNS = {"first": date(2026, 7, 1), "second": date(2026, 7, 2)}
SEEDS = {"first": 101, "second": 102}
FIRST_ORDER_DATE = {"first": date(2026, 6, 1), "second": date(2026, 6, 3)}  # 06-03 and 06-04 are shared


@pytest.fixture(scope="module")
def apis() -> Iterator[dict[str, str]]:
    """One API per run, each with its own carts over four order dates, two of them shared."""
    servers = {
        name: ApiServer(
            SyntheticSource(users=30, products=40, carts=40, seed=seed, start_date=FIRST_ORDER_DATE[name], days=4)
        )
        for name, seed in SEEDS.items()
    }
    for server in servers.values():
        server.start()
    yield {name: server.url for name, server in servers.items()}
    for server in servers.values():
        server.stop()


def run_flow(name: str, api_url: str, work: Path) -> RunSummary:
    """One flow run of `name`'s ingest date against its own API; return its summary (raising on failure)."""
    params = PipelineParameters(run_date=RUNS[name], api_url=api_url, page_size=0, report_dir=str(work / name))
    return ecom_pipeline(params)


def warehouse_by_order(run_names: dict[str, str]) -> dict[str, tuple[Any, ...]]:
    """order_id -> (order_date, quantity, revenue, profit, the name of the run that wrote it)."""
    settings = load_settings()
    table = f"{settings.snowflake.database}.{settings.snowflake.schema_name}.orders"
    with connect(settings.snowflake) as warehouse:
        rows = warehouse.query_dicts(f"select order_id, order_date, quantity, revenue, profit, run_id from {table}")
    return {
        row["order_id"]: (
            str(row["order_date"]),
            int(row["quantity"]),
            str(row["revenue"]),
            str(row["profit"]),
            run_names[row["run_id"]],
        )
        for row in rows
    }


def lock_order(summaries: dict[str, RunSummary]) -> list[str]:
    """The run names in the order their loads committed (load_audit's finished_at)."""
    return sorted(summaries, key=lambda name: summaries[name].warehouse.finished_at)


@pytest.fixture(scope="module")
def outcome(prefect_harness: None, apis: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two runs at once in one lake, then the same two one after the other in a fresh lake."""
    source = SyntheticSource(carts=1)  # the runtime's own API is not used: each run names its own
    result: dict[str, Any] = {}
    work = tmp_path_factory.mktemp("partitions-at-once")
    with pytest.MonkeyPatch.context() as monkeypatch, open_lake(work, monkeypatch, source), LogCapture() as logs:
        reset_faults()
        summaries: dict[str, Any] = {}
        # Prefect builds the flow's parameter model on first use; two threads racing to build it both fail.
        ecom_pipeline.validate_parameters({"params": PipelineParameters()})
        start = threading.Barrier(2)

        def one(name: str) -> None:
            start.wait()
            try:
                summaries[name] = run_flow(name, apis[name], work)
            except Exception as error:  # recorded and asserted on below
                summaries[name] = error

        threads = [threading.Thread(target=one, args=(name,), name=f"run-{name}") for name in RUNS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        result["at_once"] = summaries
        ran = {name: s for name, s in summaries.items() if isinstance(s, RunSummary)}
        result["order"] = lock_order(ran) if len(ran) == 2 else []
        result["at_once_orders"] = warehouse_by_order({s.run_id: name for name, s in ran.items()})
        result["waited"] = [line for line in logs.lines if "waiting up to" in line and "transform and load" in line]

    work = tmp_path_factory.mktemp(f"partitions-in-turn-{uuid.uuid4().hex[:6]}")
    with pytest.MonkeyPatch.context() as monkeypatch, open_lake(work, monkeypatch, source):
        reset_faults()
        in_turn = {name: run_flow(name, apis[name], work) for name in result["order"]}
        result["in_turn_orders"] = warehouse_by_order({s.run_id: name for name, s in in_turn.items()})
    return result


def test_both_runs_complete_and_one_waited_for_the_other(outcome: dict[str, Any]) -> None:
    assert all(isinstance(summary, RunSummary) for summary in outcome["at_once"].values()), outcome["at_once"]
    assert sorted(outcome["order"]) == sorted(RUNS)
    assert outcome["waited"], "neither run said it waited for the other's transform and load"


def test_the_runs_share_partitions(outcome: dict[str, Any]) -> None:
    partitions = [set(summary.transform.partitions_written) for summary in outcome["at_once"].values()]
    assert partitions[0] & partitions[1], "the two runs must rewrite some of the same order_date partitions"


def test_the_warehouse_equals_the_same_runs_one_after_the_other_order_by_order(outcome: dict[str, Any]) -> None:
    at_once, in_turn = outcome["at_once_orders"], outcome["in_turn_orders"]
    assert len(in_turn) > 0
    assert {name for *_, name in in_turn.values()} == set(RUNS), "each run must own some orders at the end"
    assert at_once == in_turn
