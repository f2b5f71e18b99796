"""Processes killed mid-write and two runs at once, in one lake, each step checked against the oracle.

1. The Spark job is killed (SIGKILL, its whole process group) while it writes the curated zone: the flow fails.
2. The flow is re-run: the warehouse equals the fault-free result.
3. The warehouse emulator is killed inside the load transaction (after COPY, before MERGE) and restarted from its
   files: the flow fails, and the warehouse still holds exactly the committed result, nothing half-loaded.
   (The load is forced: the warehouse already holds this output, which would otherwise skip it.)
4. The flow is re-run: the warehouse equals the fault-free result again (found whole, so the load is skipped).
5. Two runs for the same date start at once under `run_lock`: one refuses, the other completes; nothing is
   corrupted.

Task retries are switched off for the killed stages, so the flow fails and the *re-run* must heal it (the
in-run retry of the same stages is proved in tests/flows/test_pipeline.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_support import RUN_DATE, Lake, open_lake, totals, warehouse_orders, warehouse_tables

import flows.pipeline
from ecom_local.api.data import DirectorySource
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.locks import RunLockedError, run_lock
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse import loader


def spark_process_groups(marker: str) -> set[int]:
    """Process groups of running Spark jobs whose command line mentions `marker` (this lake's bucket)."""
    groups = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"orders_job.py" in command and marker.encode() in command:
                groups.add(os.getpgid(int(pid)))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    groups.discard(os.getpgid(0))  # never ourselves
    return groups


class KillSparkMidWrite(threading.Thread):
    """Waits until the job has started writing the curated zone, then SIGKILLs its process group."""

    def __init__(self, lake: Lake, curated_prefix: str) -> None:
        super().__init__(name="kill-spark", daemon=True)
        self.lake, self.prefix = lake, curated_prefix
        self.writing_keys: list[str] = []
        self.killed_groups: set[int] = set()

    def run(self) -> None:
        assert self.lake.runtime is not None
        client, bucket = self.lake.runtime.s3.client(), self.lake.buckets["curated"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{self.prefix}/")
            keys = [item["Key"] for item in listed.get("Contents", [])]
            # FileOutputCommitter's `_temporary/` and dynamic overwrite's `.spark-staging-*`: a write in progress.
            writing = [key for key in keys if "_temporary" in key or ".spark-staging" in key]
            if writing:
                self.writing_keys = writing
                self.killed_groups = spark_process_groups(bucket)
                for group in self.killed_groups:
                    os.killpg(group, signal.SIGKILL)
                return
            time.sleep(0.05)


def kill_warehouse_after_first_copy(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Make the next load lose its warehouse between COPY and MERGE: SIGKILL the emulator, restart it from disk."""
    seen: dict[str, Any] = {"killed": False}
    original = loader._copy_partition

    def copy_then_kill(warehouse: Any, names: Any, partition_date: str) -> int:
        files = original(warehouse, names, partition_date)
        if not seen["killed"]:
            emulator = lake.runtime.snowflake  # type: ignore[union-attr]
            emulator._process.kill()  # the connection drops with the transaction open
            emulator._process.wait()
            emulator.stop()
            emulator.start()  # same port, same DuckDB files: only committed data comes back
            seen["killed"] = True
        return files

    monkeypatch.setattr(loader, "_copy_partition", copy_then_kill)
    return seen


def raw_state(settings: Any, lake: Lake) -> dict[str, tuple[int, int]]:
    """Per resource: records in the committed manifest, and how many run folders the raw zone holds."""
    assert lake.runtime is not None
    client = lake.runtime.s3.client()
    state = {}
    for resource in ("users", "products", "carts"):
        manifest = read_manifest(client, settings.storage, resource, RUN_DATE)
        assert manifest is not None
        prefix = f"{settings.storage.raw_prefix}/{resource}/ingest_date={RUN_DATE.isoformat()}/run_id="
        keys = [item["Key"] for item in client.list_objects_v2(Bucket=lake.buckets["raw"], Prefix=prefix)["Contents"]]
        state[resource] = (manifest["record_count"], len({key.split("run_id=")[1].split("/")[0] for key in keys}))
    return state


@pytest.fixture(scope="module")
def chain(prefect_harness, dummyjson_dir, tmp_path_factory) -> dict[str, Any]:
    """Run the five steps in one lake; record what each left behind."""
    work = tmp_path_factory.mktemp("kills")
    steps: dict[str, Any] = {}
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        open_lake(work, monkeypatch, DirectorySource(dummyjson_dir)) as lake,
    ):
        lake.persist_warehouse(work / "warehouse")
        settings = load_settings()
        with monkeypatch.context() as no_retries:
            no_retries.setattr(flows.pipeline, "run_transform", flows.pipeline.run_transform.with_options(retries=0))
            killer = KillSparkMidWrite(lake, settings.storage.curated_prefix)
            killer.start()
            state, error = lake.run()
            killer.join(timeout=60)
            client = lake.runtime.s3.client()  # type: ignore[union-attr]
            summaries = client.list_objects_v2(Bucket=lake.buckets["curated"], Prefix="job-summaries/")
            steps["spark_killed"] = {
                "state": state,
                "error": error,
                "killer": killer,
                "summaries": [item["Key"] for item in summaries.get("Contents", [])],
            }
        state, summary = lake.run()
        steps["rerun_after_spark"] = {"state": state, "summary": summary, "orders": warehouse_orders()}

        with monkeypatch.context() as dropped:
            dropped.setattr(flows.pipeline, "load_warehouse", flows.pipeline.load_warehouse.with_options(retries=0))
            # The warehouse already holds this output, so the load would be skipped: make it load regardless.
            dropped.setattr(loader, "already_loaded", lambda *_args, **_kwargs: False)
            seen = kill_warehouse_after_first_copy(lake, dropped)
            state, error = lake.run()
            steps["warehouse_dropped"] = {
                "state": state,
                "error": error,
                "seen": seen,
                "orders": warehouse_orders(),
                "audit": warehouse_tables()["LOAD_AUDIT"],
            }
        state, summary = lake.run()
        steps["rerun_after_warehouse"] = {
            "state": state,
            "summary": summary,
            "orders": warehouse_orders(),
            "audit": warehouse_tables()["LOAD_AUDIT"],
        }
        steps["concurrent"] = run_two_at_once(lake)
        steps["concurrent"]["orders"] = warehouse_orders()
        steps["concurrent"]["raw"] = raw_state(settings, lake)
    return steps


def run_two_at_once(lake: Lake) -> dict[str, Any]:
    """Start two locked flow runs for the same date at the same moment; return each one's outcome."""
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def one_run(name: str) -> None:
        start.wait()
        try:
            with run_lock(load_settings(), RUN_DATE):
                outcomes[name] = lake.run()
        except RunLockedError as error:
            outcomes[name] = error

    threads = [threading.Thread(target=one_run, args=(name,), name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return {"outcomes": outcomes}


def test_spark_killed_mid_write_fails_the_flow_without_a_summary(chain: dict[str, Any]) -> None:
    step = chain["spark_killed"]
    assert step["killer"].writing_keys, "the job was never caught writing the curated zone"
    assert step["killer"].killed_groups, "no Spark process was found to kill"
    assert step["state"].is_failed()
    assert "stage transform failed" in str(step["error"])
    assert step["summaries"] == []  # neither a run summary nor the date's reuse marker (`job-summaries/latest/`)


def test_rerun_after_the_spark_kill_equals_the_fault_free_result(chain, expected_warehouse) -> None:
    step = chain["rerun_after_spark"]
    assert step["state"].is_completed(), step["state"].message
    assert step["summary"].transform.reused is False  # the killed job left no marker to trust
    assert totals(step["orders"]) == totals(expected_warehouse)
    assert step["orders"] == expected_warehouse


def test_warehouse_dropped_mid_load_keeps_only_committed_data(chain, expected_warehouse) -> None:
    step = chain["warehouse_dropped"]
    assert step["seen"]["killed"]
    assert step["state"].is_failed()
    assert "stage snowflake-load failed" in str(step["error"])
    assert step["orders"] == expected_warehouse  # the open transaction left nothing behind
    assert len(step["audit"]) == 1  # only the committed load of the earlier run


def test_rerun_after_the_warehouse_drop_equals_the_fault_free_result(chain, expected_warehouse) -> None:
    step = chain["rerun_after_warehouse"]
    assert step["state"].is_completed(), step["state"].message
    # The dropped load left the committed orders intact, so the re-run finds them whole and skips the load.
    assert step["summary"].warehouse.skipped is True
    assert totals(step["orders"]) == totals(expected_warehouse)
    assert step["orders"] == expected_warehouse
    assert len(step["audit"]) == 1


def test_two_runs_at_once_one_refuses_and_nothing_is_corrupted(chain, expected_warehouse) -> None:
    outcomes = chain["concurrent"]["outcomes"]
    refused = [value for value in outcomes.values() if isinstance(value, RunLockedError)]
    ran = [value for value in outcomes.values() if not isinstance(value, RunLockedError)]
    assert len(refused) == 1 and len(ran) == 1, outcomes
    assert "another pipeline run for 2026-06-17 is in progress" in str(refused[0])
    state, _summary = ran[0]
    assert state.is_completed(), state.message
    assert chain["concurrent"]["orders"] == expected_warehouse
    # One committed run per resource, with all its records; no stray run folders from the refused run.
    assert chain["concurrent"]["raw"] == {"users": (208, 1), "products": (194, 1), "carts": (208, 1)}
