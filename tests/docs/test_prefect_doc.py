"""docs/prefect.md's local route, block by block as a reader pastes them, against a real Prefect server.

Shells that stay open (the emulators, the worker) run in the background in their own process group; the
others run to completion and must exit 0. One server and one worker serve the three deployment runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import REPO_ROOT
from doc_shells import DocServer, Shell, start_block, wait_for
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect_support import prefect_client, stop_group

from flows.automations import load_automations_file
from oracle import expected_kpis, expected_orders

DOC = "docs/prefect.md"
RUN_DATE = "2026-06-17"
ARTIFACTS = {
    "ecom-kpis",
    "ecom-reconciliation",
    "ecom-quarantine",
    "ecom-views",
    "ecom-data-quality",
    "ecom-schema-drift",
}
# Stage loggers with INFO lines in a first run (the warehouse's own INFO line is the skipped load's, below).
STAGE_LOGGERS = (
    "ecom_pipeline.locks",
    "ecom_pipeline.extract",
    "ecom_pipeline.land.landing",
    "ecom_pipeline.transform",
)
FAULTED_TASKS = ("fetch-and-land-users", "transform", "snowflake-load")


@dataclass
class FlowRunRecord:
    """A finished deployment run as the Prefect API stores it."""

    flow_run: Any
    logs: list[Any]
    artifacts: dict[str, Any]
    task_states: dict[str, list[str]]  # task run name -> its state names, oldest first

    def states_of(self, task: str) -> list[str]:
        """The states of the one task run named `task` (Prefect adds a suffix to unnamed task runs: transform-a1b)."""
        [states] = [states for name, states in self.task_states.items() if re.fullmatch(rf"{task}(-\w{{3}})?", name)]
        return states

    def messages(self, logger_prefix: str = "") -> list[str]:
        """Stored log messages whose logger name starts with `logger_prefix`."""
        return [log.message for log in self.logs if log.name.startswith(logger_prefix)]


def _read_logs(api_url: str, flow_run_id: Any) -> list[Any]:
    logs: list[Any] = []
    with prefect_client(api_url) as client:
        while page := client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=len(logs)
        ):
            logs += page
    return logs


def _record(server: DocServer, completed: subprocess.CompletedProcess[str]) -> FlowRunRecord:
    """Everything the API holds about the flow run that `prefect deployment run` reported."""
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", completed.stdout).group(1)
    # The flow-run process sends its last log batch as it exits, just after the final state.
    deadline = time.monotonic() + 30
    logs = _read_logs(server.api_url, flow_run_id)
    while not any("Finished in state" in log.message for log in logs) and time.monotonic() < deadline:
        time.sleep(1)
        logs = _read_logs(server.api_url, flow_run_id)
    with prefect_client(server.api_url) as client:
        flow_run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        task_states = {run.name: [state.name for state in client.read_task_run_states(run.id)] for run in task_runs}
    return FlowRunRecord(flow_run, logs, {artifact.key: artifact for artifact in artifacts}, task_states)


@pytest.fixture(scope="module")
def shell2(doc_server: DocServer) -> Shell:
    """The reader's main shell: deploy, then every `prefect deployment run`."""
    return Shell(doc_server)


@pytest.fixture(scope="module")
def deployed(shell2: Shell) -> subprocess.CompletedProcess[str]:
    """Shell 2: the work pool and `prefect deploy -n local`."""
    return shell2.run(DOC, "prefect-deploy-local", timeout=300)


@pytest.fixture(scope="module")
def automations(shell2: Shell, deployed: Any) -> subprocess.CompletedProcess[str]:
    """Shell 2: `ecom-pipeline automations apply`, with no webhook configured."""
    return shell2.run(DOC, "prefect-automations", timeout=120)


@pytest.fixture(scope="module")
def emulators(doc_server: DocServer, deployed: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Shell 3: `ecom-pipeline emulators up`, running until `emulators down`."""
    log = tmp_path_factory.mktemp("emulators") / "emulators.log"
    process = start_block(doc_server.block(DOC, "prefect-emulators"), doc_server.env, log)
    state = doc_server.work_dir / "emulators.json"
    wait_for("emulators up", lambda: "export ECOM_API_BASE_URL=" in log.read_text() and state.is_file(), process, log)
    yield process
    stop_group(process)


@pytest.fixture(scope="module")
def worker(doc_server: DocServer, emulators: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Shell 4: the process worker with the emulators' endpoints."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_block(doc_server.block(DOC, "prefect-worker"), doc_server.env, log)
    wait_for("worker", lambda: "started!" in log.read_text(), process, log)
    yield process, log
    stop_group(process)


def _deployment_run(shell: Shell, test_id: str, worker: Any) -> FlowRunRecord:
    """Shell 2: a `prefect deployment run ... --watch` block; it must exit 0 (the run completed)."""
    _process, log = worker
    try:
        completed = shell.run(DOC, test_id, timeout=400)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- worker ---\n{log.read_text()[-6000:]}") from None
    return _record(shell.server, completed)


@pytest.fixture(scope="module")
def first_run(shell2: Shell, worker: Any) -> FlowRunRecord:
    return _deployment_run(shell2, "prefect-run", worker)


@pytest.fixture(scope="module")
def second_run(shell2: Shell, worker: Any, first_run: FlowRunRecord) -> FlowRunRecord:
    return _deployment_run(shell2, "prefect-rerun", worker)


@pytest.fixture(scope="module")
def fault_run(shell2: Shell, worker: Any, second_run: FlowRunRecord) -> FlowRunRecord:
    return _deployment_run(shell2, "prefect-faults", worker)


def _group_gone(group: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_deploy_block_exits_0_without_warnings_and_activates_no_schedule(
    doc_server: DocServer, deployed: subprocess.CompletedProcess[str]
) -> None:
    output = deployed.stdout + deployed.stderr
    assert "warning" not in output.lower(), output
    with prefect_client(doc_server.api_url) as client:
        deployments = client.read_deployments(deployment_filter=DeploymentFilter())
    assert [deployment.name for deployment in deployments] == ["local"]
    [local] = deployments
    assert local.schedules == [] and local.work_pool_name == "ecom-process"
    # ECOM_REPO_DIR exported before deploying is written into the pull step: the worker needs no repo path.
    assert local.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}]


def test_automations_block_creates_the_four_automations_without_an_action(
    doc_server: DocServer, automations: subprocess.CompletedProcess[str]
) -> None:
    lines = automations.stdout.splitlines()
    assert lines[-1] == f"4 automations on {doc_server.api_url}: 4 created, 0 updated, 0 unchanged", lines
    assert any(line.startswith("no notification block: these automations notify no one") for line in lines)
    with prefect_client(doc_server.api_url) as client:
        held = client.read_automations()
    assert sorted(automation.name for automation in held) == sorted(
        spec.core.name for spec in load_automations_file().automations
    )
    assert all(automation.enabled and automation.actions == [] for automation in held)


def test_first_run_completes_with_six_artifacts_and_the_stage_log_lines(
    first_run: FlowRunRecord, dummyjson_dir: Path
) -> None:
    assert first_run.flow_run.state.is_completed()
    assert set(first_run.artifacts) == ARTIFACTS
    kpis = {row["kpi"]: row["value"] for row in json.loads(first_run.artifacts["ecom-kpis"].data)}
    expected = expected_kpis(expected_orders(dummyjson_dir))
    assert kpis["Total Orders"] == str(expected["total_orders"]) == "800"
    assert kpis["Total Revenue"] == f"{expected['total_revenue']:.2f}"
    assert kpis["Total Revenue"] in (REPO_ROOT / DOC).read_text()  # the figure the doc quotes

    names = {log.name for log in first_run.logs}
    missing = [stage for stage in STAGE_LOGGERS if not any(n == stage or n.startswith(f"{stage}.") for n in names)]
    assert not missing, f"no stored log line from {missing}; loggers seen: {sorted(names)}"
    messages = first_run.messages("ecom_pipeline.")
    assert any(re.match(r"run lock s3://\S+ taken by ", message) for message in messages)
    assert any(message.startswith("extracted carts: 208 items in 3 pages") for message in messages)  # as the doc says
    # Our INFO lines, and no third-party logger's: every stored INFO line is Prefect's or ours.
    others = {log.name for log in first_run.logs if log.level <= 20 and not log.name.startswith(("prefect", "ecom_"))}
    assert not others


def test_second_run_reuses_the_transform_and_skips_the_load(second_run: FlowRunRecord) -> None:
    assert second_run.flow_run.state.is_completed()
    transform = second_run.messages("ecom_pipeline.transform.")
    assert any(message.startswith("transform inputs unchanged since run") for message in transform), transform
    warehouse = second_run.messages("ecom_pipeline.warehouse.")
    assert any(message.endswith("load skipped") for message in warehouse), warehouse
    assert set(second_run.artifacts) == ARTIFACTS


def test_fault_injected_run_retries_each_faulted_task_and_completes(fault_run: FlowRunRecord) -> None:
    assert fault_run.flow_run.state.is_completed()
    for name in FAULTED_TASKS:
        states = fault_run.states_of(name)
        assert states[-1] == "Completed", (name, states)
        assert "AwaitingRetry" in states and "Retrying" in states, (name, states)
    untouched = fault_run.states_of("fetch-and-land-carts")
    assert "AwaitingRetry" not in untouched, untouched
    assert any("injected transient fault" in message for message in fault_run.messages()), "fault not in the logs"


def test_ctrl_c_stops_the_worker_and_emulators_down_stops_the_emulators(
    doc_server: DocServer, shell2: Shell, worker: Any, emulators: Any, fault_run: FlowRunRecord
) -> None:
    process, log = worker
    # Ctrl-C: SIGINT to the shell's whole foreground process group (bash, uv, the worker's Python).
    assert stop_group(process, signal.SIGINT, timeout=30), f"worker still running 30 s after Ctrl-C:\n{log.read_text()}"
    assert _group_gone(process.pid), "a process of the worker's shell outlived Ctrl-C"

    shell2.run(DOC, "prefect-stop", timeout=120)
    assert emulators.wait(timeout=30) is not None
    assert not (doc_server.work_dir / "emulators.json").exists()
