"""Helpers of the reliability suite: the expected warehouse (from the oracle), flow lakes on fresh emulators,
log capture, and the flow run under API faults and an S3 restart (searched by the security tests too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from snowflake_login import KeyPair, LoginRecorder, make_key_pair

from ecom_local.api.data import DirectorySource
from ecom_local.api.faults import FAULT_KINDS, FaultPlan
from ecom_local.emulators.fakesnow_server import FakesnowEmulator
from ecom_local.emulators.local import LocalRuntime
from ecom_local.emulators.s3 import EMULATOR_REGION, emulator_env
from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.credentials.secret_store import muted
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse.connection import connect
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline
from oracle import expected_orders

RUN_DATE = date(2026, 6, 17)
PAGE_SIZE = 50
# Unique values: if one of them shows up in a log line, an object or a summary, it leaked.
AWS_SECRET = f"aws-secret-{uuid.uuid4().hex}"
KEY_PASSPHRASE = f"key-passphrase-{uuid.uuid4().hex}"
WEBHOOK_TOKEN = f"hook-token-{uuid.uuid4().hex}"

OrderRow = tuple[int, Decimal, Decimal]  # quantity, revenue, profit


def warehouse_orders() -> dict[str, OrderRow]:
    """Every order in the warehouse: order_id -> (quantity, revenue, profit), money as exact Decimals."""
    settings = load_settings()
    table = f"{settings.snowflake.database}.{settings.snowflake.schema_name}.orders"
    with connect(settings.snowflake) as warehouse:
        rows = warehouse.query_dicts(f"select order_id, quantity, revenue, profit from {table}")
    return {
        row["order_id"]: (int(row["quantity"]), Decimal(str(row["revenue"])), Decimal(str(row["profit"])))
        for row in rows
    }


def totals(orders: dict[str, OrderRow]) -> tuple[int, Decimal, Decimal]:
    """Rows, revenue and profit of a set of orders."""
    return (
        len(orders),
        sum((row[1] for row in orders.values()), Decimal(0)),
        sum((row[2] for row in orders.values()), Decimal(0)),
    )


def oracle_warehouse(dummyjson_dir: Path) -> dict[str, OrderRow]:
    """The fault-free warehouse, computed by the independent oracle instead of by another flow run."""
    return {
        order_id: (order["quantity"], order["revenue"], order["profit"])
        for order_id, order in expected_orders(dummyjson_dir).items()
    }


class LogCapture(logging.Handler):
    """Keeps every formatted log line emitted in this process (root and Prefect's own loggers)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._loggers = [logging.getLogger(), logging.getLogger("prefect")]
        self._levels: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a broken record must not break the run under test
            self.lines.append(str(record.msg))

    def __enter__(self) -> LogCapture:
        for logger in self._loggers:
            self._levels.append(logger.level)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, level in zip(self._loggers, self._levels, strict=True):
            logger.removeHandler(self)
            logger.setLevel(level)


@dataclass
class Lake:
    """Fresh buckets and emulators for a series of flow runs; `run()` calls the flow for RUN_DATE."""

    work: Path
    monkeypatch: pytest.MonkeyPatch
    buckets: dict[str, str] = field(default_factory=dict)
    runtime: LocalRuntime | None = None

    def run(self, **params: Any) -> tuple[Any, Any]:
        """One flow run; return (final state, summary or error)."""
        reset_faults()
        state = ecom_pipeline(
            PipelineParameters(run_date=RUN_DATE, page_size=PAGE_SIZE, report_dir=str(self.work / "report"), **params),
            return_state=True,
        )
        return state, state.result(raise_on_failure=False)

    def persist_warehouse(self, db_path: Path) -> FakesnowEmulator:
        """Swap the in-memory warehouse for one kept in DuckDB files, on the same port, so it survives a kill."""
        assert self.runtime is not None and self.runtime.snowflake is not None
        port = self.runtime.snowflake.port
        self.runtime.snowflake.stop()
        emulator = FakesnowEmulator(port=port, env=emulator_env(self.runtime.s3.endpoint_url), db_path=db_path)
        emulator.start()
        self.runtime.snowflake = emulator  # the runtime stops it on exit
        return emulator


@contextmanager
def open_lake(
    work: Path, monkeypatch: pytest.MonkeyPatch, source: DirectorySource, faults: FaultPlan | None = None
) -> Iterator[Lake]:
    """Unique buckets, the local runtime (optionally with API faults) and the environment that points at them."""
    name = uuid.uuid4().hex[:12]
    lake = Lake(work=work, monkeypatch=monkeypatch, buckets={"raw": f"raw-{name}", "curated": f"curated-{name}"})
    monkeypatch.setenv("ECOM_RAW_BUCKET", lake.buckets["raw"])
    monkeypatch.setenv("ECOM_CURATED_BUCKET", lake.buckets["curated"])
    monkeypatch.setenv("ECOM_WORK_DIR", str(work))
    runtime = LocalRuntime(lake.buckets.values(), source)
    assert runtime.api is not None
    runtime.api.faults = faults
    with runtime:
        lake.runtime = runtime
        yield lake


def seed_with_every_fault_kind(requests: int, rate: float = 0.2) -> int:
    """The first seed whose plan puts every fault kind among the first `requests` requests (at `rate`)."""
    for seed in range(10_000):
        plan = FaultPlan(rate=rate, seed=seed)
        if {plan.pick(number) for number in range(requests)} >= set(FAULT_KINDS):
            return seed
    raise AssertionError("no seed covers every fault kind")


class S3OutageMidLanding(threading.Thread):
    """Stops the S3 emulator once some resource has parts in the raw zone but no manifest yet, then restarts it."""

    def __init__(self, lake: Lake, prefix: str, outage_seconds: float) -> None:
        super().__init__(name="s3-outage", daemon=True)
        self.lake, self.prefix, self.outage_seconds = lake, prefix, outage_seconds
        self.finished = threading.Event()
        self.stopped_during: tuple[str, list[str]] | None = None
        self.restarted_same_endpoint = False

    def run(self) -> None:
        runtime = self.lake.runtime
        assert runtime is not None
        endpoint = runtime.s3.endpoint_url
        client = runtime.s3.client()
        deadline = time.monotonic() + 120
        while not self.finished.is_set() and time.monotonic() < deadline:
            try:
                listed = client.list_objects_v2(Bucket=self.lake.buckets["raw"], Prefix=f"{self.prefix}/")
            except Exception:  # the emulator may be busy; try again
                time.sleep(0.05)
                continue
            keys = {item["Key"] for item in listed.get("Contents", [])}
            for resource in ("users", "products", "carts"):
                folder = f"{self.prefix}/{resource}/ingest_date={RUN_DATE.isoformat()}/"
                parts = sorted(key for key in keys if key.startswith(folder) and "/part-" in key)
                if parts and f"{folder}_manifest.json" not in keys:
                    self.stopped_during = (resource, parts)
                    runtime.s3.stop()
                    time.sleep(self.outage_seconds)
                    self.restarted_same_endpoint = runtime.s3.start() == endpoint
                    return
            time.sleep(0.02)


@dataclass
class FaultyRun:
    """Everything the API-fault run left behind, for the fault and the security tests."""

    state: Any
    summary: Any
    orders: dict[str, OrderRow]
    fault_plan: FaultPlan
    api_requests: int
    outage: S3OutageMidLanding
    attempts: dict[str, int]
    log_lines: list[str]
    api_log_lines: list[str]
    objects: dict[str, bytes]
    warehouse_rows: dict[str, list[dict[str, Any]]]
    executed_sql: list[tuple[str, Any]]
    artifacts: list[Any]
    settings_text: str
    secrets_in_use: bool
    key_pair: KeyPair  # the Snowflake key the run read from Secrets Manager
    logins: list[dict[str, Any]]  # the run's Snowflake login requests (tests/snowflake_login.py)
    work_dir: Path

    @property
    def secret_values(self) -> list[str]:
        """Every secret the run held: the AWS key, and the secret's key (all its forms), passphrase and URL token."""
        return [AWS_SECRET, WEBHOOK_TOKEN, *self.key_pair.secret_fragments]


def store_run_secrets(endpoint_url: str, key_pair: KeyPair) -> str:
    """The run's Secrets Manager secret (on the S3 emulator's moto server), as docs/aws.md has users create it."""
    client = boto3.client("secretsmanager", endpoint_url=endpoint_url, region_name=EMULATOR_REGION)
    name = f"ecom/pipeline-{uuid.uuid4().hex[:8]}"
    values = {
        "snowflake_private_key": key_pair.private_pem,
        "snowflake_private_key_passphrase": KEY_PASSPHRASE,
        "failure_webhook_url": f"https://hooks.example.com/services/{WEBHOOK_TOKEN}",
    }
    with muted("botocore.endpoint"):  # it logs the request at DEBUG: the test's own setup must not leak the values
        client.create_secret(Name=name, SecretString=json.dumps(values))
    return name


async def _flow_run_records(flow_run_id: Any) -> tuple[dict[str, int], list[str], list[Any]]:
    async with get_client() as client:
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        logs: list[Any] = []
        while page := await client.read_logs(log_filter=log_filter, limit=200, offset=len(logs)):  # every page
            logs += page
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {run.name: run.run_count for run in task_runs}, [log.message for log in logs], list(artifacts)


def bucket_objects(lake: Lake) -> dict[str, bytes]:
    """Every object of both buckets: `bucket/key` -> bytes."""
    assert lake.runtime is not None
    client = lake.runtime.s3.client()
    objects = {}
    for bucket in lake.buckets.values():
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects[f"{bucket}/{item['Key']}"] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


def warehouse_tables() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the pipeline's schema."""
    settings = load_settings()
    sf = settings.snowflake
    with connect(sf) as warehouse:
        names = warehouse.query_dicts(
            f"select table_name from {sf.database}.information_schema.tables where table_schema = ?",
            [sf.schema_name],
        )
        return {
            row["table_name"]: warehouse.query_dicts(
                f"select * from {sf.database}.{sf.schema_name}.{row['table_name']}"
            )
            for row in names
        }


def run_flow_under_api_faults(dummyjson_dir: Path, work: Path) -> FaultyRun:
    """One flow run while the API fails 20% of requests (5xx, 429 + Retry-After, hang, truncation) and S3 stops
    mid-landing; secrets are unique values, the Snowflake key pair comes from Secrets Manager and signs in through
    a login-recording proxy; every log line and executed SQL statement is recorded."""
    import snowflake.connector.cursor
    from prefect.logging.handlers import APILogHandler

    key_pair = make_key_pair(KEY_PASSPHRASE)
    plan = FaultPlan(
        rate=0.2, seed=seed_with_every_fault_kind(14), retry_after_seconds=1.0, slow_seconds=2.5
    )  # 14 = the fewest requests of this run: 5 + 4 + 5 pages of 50
    executed: list[tuple[str, Any]] = []
    original_execute = snowflake.connector.cursor.SnowflakeCursor.execute

    def recording_execute(self: Any, command: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        executed.append((command, params))
        return original_execute(self, command, params, *args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch, LogCapture() as captured:
        for name, value in {
            "ECOM_API_TIMEOUT_SECONDS": "1",  # the injected hang (2.5 s) outlasts it
            "ECOM_API_BACKOFF_INITIAL_SECONDS": "0.05",
            "ECOM_API_BACKOFF_MAX_SECONDS": "0.5",
            "ECOM_API_RATE_LIMIT_PER_SECOND": "5",  # slow enough that landing lasts a few seconds
            "ECOM_PART_MAX_RECORDS": "50",  # a part per page: the raw zone fills while pages arrive
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(snowflake.connector.cursor.SnowflakeCursor, "execute", recording_execute)
        with open_lake(work, monkeypatch, DirectorySource(dummyjson_dir), faults=plan) as lake:
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)  # moto takes any key; this one must not leak
            assert lake.runtime is not None and lake.runtime.api is not None and lake.runtime.snowflake is not None
            monkeypatch.setenv("ECOM_SECRET_ID", store_run_secrets(lake.runtime.s3.endpoint_url, key_pair))
            seen = resolve_credentials(load_settings())  # what the flow does first
            settings_text = f"{seen!r}\n{seen}\n{seen.model_dump_json()}"
            secrets_in_use = seen.snowflake.private_key is not None and (
                seen.storage.aws_secret_access_key is not None
                and seen.storage.aws_secret_access_key.get_secret_value() == AWS_SECRET
            )
            outage = S3OutageMidLanding(lake, load_settings().storage.raw_prefix, outage_seconds=2.0)
            with LoginRecorder(lake.runtime.snowflake.port) as recorder, pytest.MonkeyPatch.context() as proxied:
                proxied.setenv("SNOWFLAKE_PORT", str(recorder.port))  # undone before the runtime restores its own
                outage.start()
                state, summary = lake.run()
                outage.finished.set()
                outage.join(timeout=30)
            api_requests = len(lake.runtime.api.request_times)
            orders = warehouse_orders() if state.is_completed() else {}
            objects = bucket_objects(lake)
            tables = warehouse_tables()
            captured.lines.append(lake.runtime.snowflake._log_tail(limit=10**8))
    APILogHandler().flush()
    # The API log worker ships the last batch in the background: read once the run's last line has arrived.
    deadline = time.monotonic() + 60
    while True:
        attempts, api_logs, artifacts = asyncio.run(_flow_run_records(state.state_details.flow_run_id))
        if any(line.startswith("Finished in state") for line in api_logs):
            break
        assert time.monotonic() < deadline, "the flow run's last log line never reached the Prefect API"
        time.sleep(0.2)
    return FaultyRun(
        state=state,
        summary=summary,
        orders=orders,
        fault_plan=plan,
        api_requests=api_requests,
        outage=outage,
        attempts=attempts,
        log_lines=captured.lines,
        api_log_lines=api_logs,
        objects=objects,
        warehouse_rows=tables,
        executed_sql=executed,
        artifacts=artifacts,
        settings_text=settings_text,
        secrets_in_use=secrets_in_use,
        key_pair=key_pair,
        logins=recorder.logins,
        work_dir=work,
    )
