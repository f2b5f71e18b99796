"""prefect.yaml on a real local Prefect server: `prefect deploy --all`, then a run on a process worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker
from prefect_docker.worker import DockerWorker

from ecom_pipeline.runtime.local import LocalRuntime
from ecom_pipeline.runtime.ports import free_port
from ecom_pipeline.settings import load_settings
from ecom_pipeline.source.data import DirectorySource
from ecom_pipeline.warehouse.connection import bootstrap_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT_FILE = REPO_ROOT / "prefect.yaml"
DOCKER_BUILD_STEP = "prefect_docker.deployments.steps.build_docker_image"
DOCKER_PUSH_STEP = "prefect_docker.deployments.steps.push_docker_image"
OFFLINE_IMAGE = "ecom-pipeline:offline-test"
RUN_DATE = "2026-06-17"


@dataclass
class PrefectServer:
    """A `prefect server start` subprocess in its own PREFECT_HOME, and the env that talks to it."""

    api_url: str
    env: dict[str, str]
    home: Path

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run the Prefect CLI against this server from the repository root."""
        return subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", *args],
            cwd=REPO_ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _wait_healthy(api_url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prefect server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _without_prefect_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` minus PREFECT_*: a developer's profile or the test harness must not reach subprocesses."""
    return {name: value for name, value in environ.items() if not name.startswith("PREFECT_")}


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect API server on a free loopback port, with the three work pools created."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = _without_prefect_settings(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    log = home / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the stop below reaches uvicorn too
        )
    try:
        _wait_healthy(api_url, process, log)
        client_env = {**env, "PREFECT_API_URL": api_url}
        with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            # The base job templates `prefect work-pool create --type ...` uses, without 3 slow CLI starts.
            for name, worker in (
                ("ecom-process", ProcessWorker),
                ("ecom-docker", DockerWorker),
                ("ecom-aws", ProcessWorker),
            ):
                client.create_work_pool(
                    WorkPoolCreate(
                        name=name, type=worker.type, base_job_template=worker.get_default_base_job_template()
                    ),
                    overwrite=True,
                )
        yield PrefectServer(api_url=api_url, env=client_env, home=home)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def offline_prefect_file(source: Path, target: Path) -> dict[str, Any]:
    """Write `source` minus the docker deployment's build/push (no Docker engine here); return it parsed.

    The image job variable then names a fixed tag instead of the build step's output. Everything else,
    including the pull steps, schedules and pools, is deployed exactly as written.
    """
    project = yaml.safe_load(source.read_text())
    for deployment in project["deployments"]:
        steps = [next(iter(step)) for step in deployment.get("build") or []]
        if DOCKER_BUILD_STEP in steps:
            deployment["build"] = []
            deployment["push"] = []
            deployment["work_pool"]["job_variables"]["image"] = OFFLINE_IMAGE
    target.write_text(yaml.safe_dump(project, sort_keys=False))
    return project


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    """`prefect --no-prompt deploy --all` of the project file (minus the image build) against the server."""
    offline_file = tmp_path_factory.mktemp("deploy") / "prefect.yaml"
    offline_prefect_file(PREFECT_FILE, offline_file)
    return prefect_server.cli("deploy", "--all", "--prefect-file", str(offline_file))


def _read_deployment(server: PrefectServer, name: str) -> Any:
    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        return client.read_deployment_by_name(f"ecom-pipeline/{name}")


def test_prefect_yaml_docker_deployment_builds_and_pushes_the_pipeline_image() -> None:
    """The part the offline deploy cannot run: build docker/Dockerfile, push it, run that image."""
    project = yaml.safe_load(PREFECT_FILE.read_text())
    docker = next(d for d in project["deployments"] if d["name"] == "docker")
    build = docker["build"][0][DOCKER_BUILD_STEP]
    push = docker["push"][0][DOCKER_PUSH_STEP]

    assert (REPO_ROOT / build["dockerfile"]).is_file()
    assert build["image_name"] == "ecom-pipeline"
    assert build["id"] == "build-image"
    assert push["image_name"] == "{{ build-image.image_name }}"
    assert push["tag"] == "{{ build-image.tag }}"
    assert docker["work_pool"]["job_variables"]["image"] == "{{ build-image.image }}"
    assert [d["entrypoint"] for d in project["deployments"]] == ["flows/pipeline.py:ecom_pipeline"] * 3


def test_deploy_all_creates_three_deployments_with_pools_and_schedule(
    prefect_server: PrefectServer, deployed: subprocess.CompletedProcess
) -> None:
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]

    local = _read_deployment(prefect_server, "local")
    docker = _read_deployment(prefect_server, "docker")
    aws = _read_deployment(prefect_server, "aws")

    assert (local.work_pool_name, docker.work_pool_name, aws.work_pool_name) == (
        "ecom-process",
        "ecom-docker",
        "ecom-aws",
    )
    assert local.entrypoint == docker.entrypoint == aws.entrypoint == "flows/pipeline.py:ecom_pipeline"
    assert [d.job_variables["env"]["ECOM_PROFILE"] for d in (local, docker, aws)] == [
        "local",
        "compose",
        "aws",
    ]
    assert local.parameters == {} and aws.parameters == {}
    assert docker.job_variables["image"] == OFFLINE_IMAGE
    # Pull steps stay templated: the worker's environment fills them in at run time.
    assert local.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $ECOM_REPO_DIR }}"}}
    ]
    assert aws.pull_steps[0]["prefect.deployments.steps.git_clone"]["repository"] == "{{ $ECOM_GIT_REPOSITORY }}"

    assert local.schedules == [] and docker.schedules == []
    [daily] = aws.schedules
    assert daily.active
    assert (daily.schedule.cron, daily.schedule.timezone) == ("0 3 * * *", "UTC")


def _wait_terminal(server: PrefectServer, deployment_id: Any, timeout: float) -> FlowRun:
    deadline = time.monotonic() + timeout
    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            if runs and runs[0].state and runs[0].state.is_final():
                return runs[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"flow run not finished after {timeout} s: {runs and runs[0].state}")
            time.sleep(1)


def test_local_deployment_runs_end_to_end_on_a_process_worker(
    prefect_server: PrefectServer,
    deployed: subprocess.CompletedProcess,
    dummyjson_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`prefect deployment run 'ecom-pipeline/local'` on a process worker and the emulators: 800 orders."""
    assert deployed.returncode == 0, deployed.stderr[-4000:]
    run_env = {
        "ECOM_RAW_BUCKET": "deploy-raw",
        "ECOM_CURATED_BUCKET": "deploy-curated",
        "ECOM_RUN_DATE": RUN_DATE,
        "ECOM_WORK_DIR": str(tmp_path / "work"),
    }
    for name, value in run_env.items():
        monkeypatch.setenv(name, value)
    with LocalRuntime([run_env["ECOM_RAW_BUCKET"], run_env["ECOM_CURATED_BUCKET"]], DirectorySource(dummyjson_dir)):
        # As a user runs `ecom-pipeline bootstrap-warehouse` once before deployment runs.
        bootstrap_warehouse(load_settings())
        # LocalRuntime exported the emulators' endpoints to os.environ; the worker and its runs inherit them.
        worker_env = {
            **_without_prefect_settings(os.environ),
            **prefect_server.env,
            "ECOM_REPO_DIR": str(REPO_ROOT),
            # Persist the flow's return value so the test can read the summary back from the API.
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        }
        triggered = prefect_server.cli("deployment", "run", "ecom-pipeline/local")
        assert triggered.returncode == 0, triggered.stdout[-3000:] + triggered.stderr[-3000:]

        worker = prefect_server.cli(
            "worker", "start", "--pool", "ecom-process", "--run-once", env=worker_env, timeout=600
        )
        deployment = _read_deployment(prefect_server, "local")
        flow_run = _wait_terminal(prefect_server, deployment.id, timeout=60)

    assert flow_run.state is not None
    assert flow_run.state.is_completed(), (
        f"{flow_run.state.type}: {flow_run.state.message}\n{worker.stdout[-6000:]}\n{worker.stderr[-6000:]}"
    )
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        summary = flow_run.state.result()
    assert summary["run_date"] == RUN_DATE
    assert summary["resources"]["carts"]["records"] == 208
    assert summary["transform"]["rows_written"] == 800
    assert summary["warehouse"]["rows_staged"] == 800
    assert summary["warehouse"]["rows_inserted"] + summary["warehouse"]["rows_updated"] == 800
