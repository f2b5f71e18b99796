"""Each error is retried exactly as retry_policy.py says, no more: counted at the server, the job process and Prefect.

One lake (emulators and a small synthetic API) for three flow runs: a source that answers 404 for `/carts`, a
Spark job that fails its data-integrity check (exit 3), and a job that crashes (exit 1, which one retry may cure).
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_doubles import NoCarts
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import Failed
from reliability_support import open_lake

import flows.pipeline
from ecom_local.api.server import ApiServer
from ecom_local.api.synthetic import SyntheticSource
from ecom_pipeline.exceptions import (
    ConfigError,
    ContractError,
    LandingError,
    ReconciliationError,
    SourceError,
    SourceUnavailableError,
    StageError,
    TransformError,
    TransientSourceError,
    WarehouseError,
)
from ecom_pipeline.retry_policy import TASK_RETRIES
from ecom_pipeline.transform.local import LocalSparkLauncher
from flows.faults import reset_faults
from flows.pipeline import _retry_if_transient


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (SourceError("carts", 1, None, "HTTP 404"), False),
        (SourceUnavailableError("gave up after 8 attempts"), False),
        (ConfigError("no ECOM_GLUE_ROLE_ARN"), False),
        (ContractError("partitions must be dates"), False),
        (ReconciliationError("rows 799 vs 800"), False),
        (TransformError("failed its data-integrity check", transient=False), False),
        (LandingError("AccessDenied"), False),
        (WarehouseError("SQL compilation error"), False),
        (ValueError("a bug"), False),
        (TransientSourceError("injected"), True),
        (TransformError("executor lost", transient=True), True),
        (WarehouseError("statement aborted by a conflict", transient=True), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_a_task_retries_only_errors_that_say_a_retry_can_help(error: BaseException, retried: bool) -> None:
    assert _retry_if_transient(None, None, Failed(data=error)) is retried  # type: ignore[arg-type]
    assert StageError("x", error).transient is retried


def test_every_task_takes_its_retries_from_the_policy() -> None:
    tasks = {
        "fetch-and-land": flows.pipeline.fetch_and_land,
        "transform": flows.pipeline.run_transform,
        "snowflake-load": flows.pipeline.load_warehouse,
        "report": flows.pipeline.build_report,
    }
    for stage, task in tasks.items():
        assert (task.retries, task.retry_condition_fn) == (TASK_RETRIES[stage].retries, _retry_if_transient), stage


JOB_STAND_IN = """
    import sys
    with open({count_file!r}, "a") as count:
        count.write("run\\n")
    if {exit_code} == 3:
        print("orders_job: data integrity error: rows_read 6 != 5", file=sys.stderr)
    else:
        print("Traceback (most recent call last):\\nRuntimeError: executor lost", file=sys.stderr)
    sys.exit({exit_code})
"""


@pytest.fixture(scope="module")
def lake(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("retry-policy")
    with pytest.MonkeyPatch.context() as monkeypatch, open_lake(work, monkeypatch, SyntheticSource(carts=12)) as lake:
        yield lake


def task_attempts(state: Any) -> dict[str, int]:
    async def read() -> dict[str, int]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            )
        # Prefect suffixes unnamed task runs (transform-a1b); the others carry their own names.
        return {
            run.name.rsplit("-", 1)[0] if run.name.startswith("transform") else run.name: run.run_count for run in runs
        }

    return asyncio.run(read())


def run_with_job(lake: Any, monkeypatch: pytest.MonkeyPatch, exit_code: int, tmp_path: Path) -> tuple[Any, int]:
    """A flow run whose Spark job is a stand-in exiting `exit_code`; return the state and how often the job ran."""
    count_file = tmp_path / f"job-{exit_code}.runs"
    script = textwrap.dedent(JOB_STAND_IN.format(count_file=str(count_file), exit_code=exit_code))
    monkeypatch.setattr(LocalSparkLauncher, "command", lambda self, request: [sys.executable, "-c", script])
    # No wait before the retry: the count is what matters here, not the delay.
    monkeypatch.setattr(
        flows.pipeline, "run_transform", flows.pipeline.run_transform.with_options(retry_delay_seconds=0)
    )
    reset_faults()
    state, _error = lake.run()
    return state, len(count_file.read_text().splitlines()) if count_file.exists() else 0


def test_a_data_integrity_failure_of_the_job_runs_it_once(lake, monkeypatch, tmp_path) -> None:
    state, job_runs = run_with_job(lake, monkeypatch, exit_code=3, tmp_path=tmp_path)
    assert state.is_failed()
    assert "stage transform failed: local Spark job failed its data-integrity check: rows_read 6" in state.message
    assert job_runs == 1
    assert task_attempts(state)["transform"] == 1


def test_a_crashed_job_is_run_once_more_as_the_policy_says(lake, monkeypatch, tmp_path) -> None:
    state, job_runs = run_with_job(lake, monkeypatch, exit_code=1, tmp_path=tmp_path)
    assert state.is_failed()
    assert "failed with exit code 1" in state.message
    assert job_runs == 1 + TASK_RETRIES["transform"].retries
    assert task_attempts(state)["transform"] == 1 + TASK_RETRIES["transform"].retries


def test_a_404_from_the_source_is_asked_once_and_fails_the_run(lake) -> None:
    source = NoCarts(carts=5)
    with ApiServer(source) as api:
        reset_faults()
        state, error = lake.run(api_url=api.url)
    assert state.is_failed()
    assert "stage fetch-and-land carts failed: resource 'carts', page 1: HTTP 404" in str(error)
    assert source.carts_asked == 1
    assert task_attempts(state)["fetch-and-land-carts"] == 1


def test_a_snowflake_statement_error_is_final_unless_it_is_a_statement_timeout() -> None:
    from snowflake.connector.errors import ProgrammingError

    from ecom_pipeline.warehouse.connection import Warehouse

    class Cursor:
        def __init__(self, errno: int) -> None:
            self.errno = errno

        def execute(self, sql: str, params: Any) -> None:
            raise ProgrammingError(msg=f"error {self.errno}", errno=self.errno)

    verdicts = {}
    for errno in (2003, 3001, 630):  # object does not exist, insufficient privileges, statement timeout
        with pytest.raises(WarehouseError) as error:
            Warehouse._execute_cursor(Cursor(errno), "select 1", None)
        verdicts[errno] = error.value.transient
    assert verdicts == {2003: False, 3001: False, 630: True}
