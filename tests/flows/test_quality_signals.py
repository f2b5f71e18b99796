"""Data-quality and schema-drift signals: events, artifacts and summary entries read back from a real Prefect API.

The clean pair of runs (`clean_runs`) must pass every check and drift nowhere. One more lake serves a copy of the
real snapshot with an added (sensitive-looking) field, a removed field, a changed type and three bad carts: its
first run completes with a warning and reports the drift; a second run over the same source, with the run's
quarantine threshold lowered, fails after landing with one line, before the transform.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import io
import json
import math
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flow_support import RUN_DATE
from land_support import read_landed_records, read_quarantined_records
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker
from rich.console import Console
from run_results import job_summary, load_result

from ecom_local.api.data import DirectorySource
from ecom_local.emulators.local import LocalRuntime
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import ConfigError, DataQualityError
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.quality import orders_checks, thresholds
from ecom_pipeline.settings import QualitySettings, load_settings
from ecom_pipeline.summary import print_summary, signal_lines
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline
from flows.signals import QualityOverrides, drift_rows, quality_rows, quality_with_overrides

# (check, resource) in the order a run checks them: each resource after landing, then the orders after the load.
ORDER = [
    *((check, name) for name in ("users", "products", "carts") for check in ("quarantine-share", "row-change")),
    *((check, "orders") for check in ("quarantine-share", "duplicate-share", "row-change", "reconciliation")),
]
CHECKS = {f"ecom.data-quality.{check}.{name}": (check, name) for check, name in ORDER}
RAW_CHECKS = {key: value for key, value in CHECKS.items() if value[1] != "orders"}
PASSPORT = f"P-{uuid.uuid4().hex}"  # the added field's value: it must appear nowhere


# ---------------------------------------------------------------- reading the Prefect API


def signal_events(flow_run_id: Any, expected: int) -> list[Event]:
    """The run's `ecom.` events, once the server has persisted `expected` of them (its persister writes in batches)."""
    EventsWorker.drain_all()  # events leave this process in the background: send what is queued

    def wanted() -> EventFilter:  # built per request: its time window ends when it is made
        return EventFilter(
            event=EventNameFilter(prefix=["ecom."]), related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"])
        )

    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while len(events := client.read_events(filter=wanted(), limit=50).events) < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return events


def quality_events(events: list[Event]) -> dict[str, Event]:
    by_resource = {event.resource.id: event for event in events if event.event.startswith("ecom.data-quality.")}
    assert len(by_resource) == len([e for e in events if e.event.startswith("ecom.data-quality.")]), "one per check"
    return by_resource


def drift_events(events: list[Event]) -> dict[str, Event]:
    return {event.resource.id: event for event in events if event.event == "ecom.schema.drift-detected"}


async def _run_records(flow_run_id: Any) -> tuple[dict[str, Any], list[str]]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    tables = {}
    for artifact in sorted(artifacts, key=lambda artifact: artifact.created):  # the latest of a key wins
        if artifact.key in ("ecom-data-quality", "ecom-schema-drift"):
            tables[artifact.key] = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return tables, [task_run.name for task_run in task_runs]


def run_records(state: Any) -> tuple[dict[str, Any], list[str]]:
    """The run's data-quality and drift tables by key, and the names of its task runs."""
    return asyncio.run(_run_records(state.state_details.flow_run_id))


# ---------------------------------------------------------------- the clean runs


def test_clean_runs_pass_every_check_with_one_event_each(clean_runs) -> None:
    (first_state, first, _), (second_state, second, _) = clean_runs
    for state, summary in ((first_state, first), (second_state, second)):
        events = quality_events(signal_events(state.state_details.flow_run_id, expected=len(CHECKS)))
        assert set(events) == set(CHECKS)
        assert {event.event for event in events.values()} == {"ecom.data-quality.passed"}
        for resource_id, event in events.items():
            check, name = CHECKS[resource_id]
            assert dict(event.resource) == {
                "prefect.resource.id": resource_id,
                "prefect.resource.name": f"{check} of {name}",
                "ecom.check": check,
                "ecom.resource": name,
                "ecom.profile": "local",
            }
            flow_run = [related for related in event.related if related.role == "flow-run"]
            assert [related.id for related in flow_run] == [f"prefect.flow-run.{state.state_details.flow_run_id}"]
            assert event.payload["severity"] == "passed" and event.payload["run_id"] == summary.run_id
        # The summary holds the same results as the events (less the run's id and date, which it holds itself).
        assert {(entry["check"], entry["resource"]): entry for entry in summary.data_quality} == {
            CHECKS[resource_id]: {
                key: value for key, value in event.payload.items() if key not in ("run_id", "run_date")
            }
            for resource_id, event in events.items()
        }

    first_events = quality_events(signal_events(first_state.state_details.flow_run_id, expected=len(CHECKS)))
    users = first_events["ecom.data-quality.quarantine-share.users"].payload
    assert users["figures"] == {"quarantined": 0, "received": 208, "reasons": {}}
    assert users["figure"] == 0.0 and users["threshold"]["fail"] == 0.05
    assert first_events["ecom.data-quality.row-change.carts"].payload["message"] == (
        "row-change carts: 208 rows; no previous run to compare"
    )
    reconciled = first_events["ecom.data-quality.reconciliation.orders"].payload
    assert reconciled["figures"] | {"unbalanced": []} == {
        "rows_read": 800,
        "rows_written": 800,
        "rows_quarantined": 0,
        "duplicates_removed": 0,
        "rows_staged": 800,
        "revenue_written": f"{first.transform.revenue_written:.2f}",
        "revenue_staged": f"{first.warehouse.revenue_staged:.2f}",
        "unbalanced": [],
    }
    # The second run compares with the first (its job summary, and the manifests it replaced).
    second_events = quality_events(signal_events(second_state.state_details.flow_run_id, expected=len(CHECKS)))
    for name, rows in (("users", 208), ("products", 194), ("carts", 208), ("orders", 800)):
        payload = second_events[f"ecom.data-quality.row-change.{name}"].payload
        assert (payload["figure"], payload["figures"]["previous_run_id"]) == (0.0, first.run_id)
        assert payload["figures"]["rows"] == payload["figures"]["previous_rows"] == rows


def test_clean_runs_report_no_drift_and_publish_both_tables(clean_runs) -> None:
    for state, summary, _ in clean_runs:
        events = signal_events(state.state_details.flow_run_id, expected=len(CHECKS))
        assert drift_events(events) == {}  # nothing is emitted for no drift
        assert {name: landed.schema_drift["status"] for name, landed in summary.resources.items()} == {
            "users": "no drift",
            "products": "no drift",
            "carts": "no drift",
        }
        tables, _ = run_records(state)
        assert tables["ecom-schema-drift"] == [
            {"resource": name, "change": "no drift", "path": "", "expected": "", "seen": ""}
            for name in ("users", "products", "carts")
        ]
        rows = tables["ecom-data-quality"]
        assert [(row["check"], row["resource"], row["severity"]) for row in rows] == [(*key, "passed") for key in ORDER]
        assert signal_lines(summary) == [
            "[bold]schema[/]     users: no drift; products: no drift; carts: no drift",
            f"[bold]quality[/]    {len(CHECKS)} checks, {len(CHECKS)} passed",
        ]


# ---------------------------------------------------------------- a drifting source


def drifting_snapshot(dummyjson_dir: Path, folder: Path) -> Path:
    """A copy of the real snapshot (in a test folder, never the repository) with drift and three bad carts."""
    folder.mkdir()
    for resource in ("users", "products", "carts"):
        document = json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))
        records = copy.deepcopy(document[resource])
        if resource == "users":
            for user in records:
                user["passportNumber"] = PASSPORT  # a new sensitive field: reported, never landed
                del user["university"]  # a landed field the source stopped sending
            for user in records[:5]:
                user["age"] = str(user["age"])  # a changed JSON type
        if resource == "carts":
            for cart in records[:3]:
                cart["products"][0]["quantity"] = 0  # quarantined at the door: 3 of 208 carts, above 1 %
        (folder / f"{resource}.json").write_text(json.dumps({**document, resource: records}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def drift_runs(prefect_harness, dummyjson_dir, tmp_path_factory) -> dict[str, Any]:
    """Two runs over one drifting source and one lake: default thresholds, then the quarantine `fail` at 1 %."""
    work = tmp_path_factory.mktemp("drift")
    source = DirectorySource(drifting_snapshot(dummyjson_dir, work / "source"))
    lake = uuid.uuid4().hex[:12]
    buckets = {"ECOM_RAW_BUCKET": f"raw-{lake}", "ECOM_CURATED_BUCKET": f"curated-{lake}"}
    runs: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {**buckets, "ECOM_WORK_DIR": str(work)}.items():
            monkeypatch.setenv(name, value)
        with LocalRuntime(buckets.values(), source):
            for name, quality in (("warned", None), ("failed", {"quarantine_share_fail": 0.01})):
                reset_faults()
                params = PipelineParameters(
                    run_date=RUN_DATE, page_size=50, report_dir=str(work / name), quality=quality
                )
                state = ecom_pipeline(params, return_state=True)
                runs[name] = (state, state.result(raise_on_failure=False))
            settings = load_settings()
            s3 = make_s3_client(settings.storage)
            runs["raw"] = {
                key: s3.get_object(Bucket=settings.storage.raw_bucket, Key=key)["Body"].read()
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.storage.raw_bucket)
                for key in (entry["Key"] for entry in page.get("Contents", []))
            }
            runs["records"] = {
                "landed": list(read_landed_records(s3, settings.storage, "users", RUN_DATE)),
                "quarantined": list(read_quarantined_records(s3, settings.storage, "carts", RUN_DATE)),
            }
            runs["users_manifest"] = read_manifest(s3, settings.storage, "users", RUN_DATE)
    return runs


EXPECTED_DRIFT = {
    "added": [{"path": "$.passportNumber", "types": ["string"]}],
    "missing": [{"path": "$.university", "expected": "string"}],
    "type_changed": [{"path": "$.age", "expected": "number", "seen": ["number", "string"]}],
}


def test_drift_is_reported_in_the_summary_an_artifact_and_one_event(drift_runs) -> None:
    state, summary = drift_runs["warned"]
    assert state.is_completed(), state.message
    assert summary.resources["users"].schema_drift == {
        "status": "drift",
        "records": 208,
        "complete": True,
        **EXPECTED_DRIFT,
    }
    assert [summary.resources[name].schema_drift["status"] for name in ("products", "carts")] == ["no drift"] * 2
    events = signal_events(state.state_details.flow_run_id, expected=len(CHECKS) + 1)
    [drifted] = drift_events(events).values()
    assert dict(drifted.resource) == {
        "prefect.resource.id": "ecom.source.users",
        "prefect.resource.name": "source users",
        "ecom.resource": "users",
        "ecom.profile": "local",
    }
    assert drifted.payload == {
        **EXPECTED_DRIFT,
        "records": 208,
        "complete": True,
        "message": "source users drifted: 1 added, 1 missing, 1 type changed",
        "run_id": summary.run_id,
        "run_date": RUN_DATE.isoformat(),
    }
    tables, _ = run_records(state)
    assert tables["ecom-schema-drift"] == drift_rows(summary.resources) == [
        {"resource": "users", "change": "added", "path": "$.passportNumber",
         "expected": "(unknown field: not landed)", "seen": "string"},
        {"resource": "users", "change": "missing", "path": "$.university", "expected": "string", "seen": "(absent)"},
        {"resource": "users", "change": "type changed", "path": "$.age", "expected": "number",
         "seen": "number, string"},
        {"resource": "products", "change": "no drift", "path": "", "expected": "", "seen": ""},
        {"resource": "carts", "change": "no drift", "path": "", "expected": "", "seen": ""},
    ]  # fmt: skip
    assert signal_lines(summary)[0] == (
        "[bold]schema[/]     users: 1 added, 1 missing, 1 type changed; products: no drift; carts: no drift"
    )


def test_a_warning_does_not_stop_the_run_and_says_why(drift_runs) -> None:
    state, summary = drift_runs["warned"]
    events = quality_events(signal_events(state.state_details.flow_run_id, expected=len(CHECKS) + 1))
    warned = {resource_id for resource_id, event in events.items() if event.event == "ecom.data-quality.warning"}
    assert warned == {"ecom.data-quality.quarantine-share.carts"}
    payload = events["ecom.data-quality.quarantine-share.carts"].payload
    assert payload["figures"] == {
        "quarantined": 3,
        "received": 208,
        "reasons": {"products.0.quantity: Input should be greater than or equal to 1": 3},
    }
    assert (payload["figure"], payload["severity"]) == (0.014423, "warning")
    quarantined_lines = sum(len(line["record"]["products"]) for line in drift_runs["records"]["quarantined"])
    assert summary.transform.rows_read == 800 - quarantined_lines  # the run went on without those carts
    tables, _ = run_records(state)
    flagged = [row for row in tables["ecom-data-quality"] if row["severity"] != "passed"]
    assert flagged == [
        {
            "check": "quarantine-share",
            "resource": "carts",
            "severity": "warning",
            "figure": "0.014423",
            "warn": "0.01",
            "fail": "0.05",
            "message": payload["message"],
        }
    ]
    console = Console(file=io.StringIO(), width=200)
    print_summary(console, summary)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"quality    {len(CHECKS)} checks, {len(CHECKS) - 1} passed" in printed
    assert "warning: quarantine-share carts: 1.44% of 208 records quarantined (3)" in printed


def test_a_fail_breach_stops_the_run_after_landing_with_one_line(drift_runs) -> None:
    state, error = drift_runs["failed"]
    assert state.is_failed()
    assert isinstance(error, DataQualityError) and not error.transient
    assert str(error) == (
        "data-quality check failed: quarantine-share carts: 1.44% of 208 records quarantined (3), above the fail "
        "threshold 1.00% (ECOM_DQ_QUARANTINE_SHARE_FAIL)"
    )
    events = signal_events(state.state_details.flow_run_id, expected=len(RAW_CHECKS) + 1)
    checks = quality_events(events)
    assert set(checks) == set(RAW_CHECKS)  # emitted before failing; the orders were never checked
    assert checks["ecom.data-quality.quarantine-share.carts"].event == "ecom.data-quality.failed"
    assert checks["ecom.data-quality.quarantine-share.carts"].payload["threshold"]["fail"] == 0.01
    warned_run = drift_runs["warned"][1].run_id
    row_change = checks["ecom.data-quality.row-change.users"].payload
    assert (row_change["figure"], row_change["figures"]["previous_run_id"]) == (0.0, warned_run)
    # The landing reused the first run's unchanged chunks; their stored profiles still report the drift.
    [drifted] = drift_events(events).values()
    assert {key: drifted.payload[key] for key in EXPECTED_DRIFT} == EXPECTED_DRIFT
    manifest = drift_runs["users_manifest"]
    assert manifest["run_id"] == drifted.payload["run_id"] != warned_run
    assert {part["file"].split("/")[0] for part in manifest["parts"]} == {f"run_id={warned_run}"}
    tables, task_runs = run_records(state)
    assert not [name for name in task_runs if name.startswith(("transform", "snowflake-load", "report"))]
    assert [
        (row["resource"], row["severity"]) for row in tables["ecom-data-quality"] if row["severity"] != "passed"
    ] == [("carts", "failed")]


def test_an_added_sensitive_field_stays_out_of_the_lake_and_the_signals(drift_runs) -> None:
    assert drift_runs["records"]["landed"] and all(
        "passportNumber" not in user and "university" not in user for user in drift_runs["records"]["landed"]
    )
    assert all("passportNumber" not in line["record"] for line in drift_runs["records"]["quarantined"])
    texts = [
        (gzip.decompress(body) if key.endswith(".gz") else body).decode("utf-8")
        for key, body in drift_runs["raw"].items()
    ]
    assert len(texts) > 3 and [text for text in texts if PASSPORT in text] == []
    state, summary = drift_runs["warned"]
    events = signal_events(state.state_details.flow_run_id, expected=len(CHECKS) + 1)
    tables, _ = run_records(state)
    signals = json.dumps([event.payload for event in events]) + json.dumps(tables) + summary.model_dump_json()
    assert PASSPORT not in signals


# ---------------------------------------------------------------- the run's thresholds


def test_a_runs_thresholds_override_the_settings_and_are_checked() -> None:
    settings = QualitySettings()
    overridden = quality_with_overrides(settings, QualityOverrides(row_change_fail=2.0, quarantine_share_warn=0.0))
    assert (overridden.row_change_fail, overridden.quarantine_share_warn, overridden.row_change_warn) == (2.0, 0.0, 0.2)
    assert quality_with_overrides(settings, None) is settings
    with pytest.raises(ConfigError, match=r"^data-quality thresholds of this run: .*row_change_warn \(0.2\) must not"):
        quality_with_overrides(settings, QualityOverrides(row_change_fail=0.1))
    with pytest.raises(ValueError, match="quarantine_share_fial"):
        PipelineParameters(quality={"quarantine_share_fial": 0.1})
    assert PipelineParameters(quality={"duplicate_share_fail": 0.5}).quality.duplicate_share_fail == 0.5
    never = quality_with_overrides(settings, QualityOverrides(row_change_fail=math.inf))
    transform = job_summary(rows_read=800, rows_written=800, rows_quarantined=0, duplicates_removed=0,
                            quarantined_by_reason={}, revenue_written="10")  # fmt: skip
    results = orders_checks(transform, load_result(rows_staged=800, revenue_staged="10.00"), None, thresholds(never))
    [row] = [row for row in quality_rows(results) if row["check"] == "row-change"]
    assert (row["warn"], row["fail"], row["figure"]) == ("0.2", "never", "")
