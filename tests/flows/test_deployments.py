"""prefect.yaml on a real local Prefect server: `prefect deploy --all` registers the three deployments as written.

A run of the `local` deployment on a process worker, with faults and the stage logs, is docs/prefect.md's route:
tests/docs/test_prefect_doc.py runs it block by block.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import PrefectHTTPStatusError
from prefect.workers.process import ProcessWorker
from prefect_docker.worker import DockerWorker
from prefect_support import REPO_ROOT, PrefectServer, prefect_client, read_deployment

PREFECT_FILE = REPO_ROOT / "prefect.yaml"
DOCKER_BUILD_STEP = "flows.image_build.build_image"  # prefect-docker's, reading ECOM_DOCKER_PULL as a boolean
DOCKER_PUSH_STEP = "prefect_docker.deployments.steps.push_docker_image"
OFFLINE_IMAGE = "ecom-pipeline:offline-test"


@pytest.fixture(scope="module")
def work_pools(prefect_server: PrefectServer) -> None:
    """The three work pools prefect.yaml names, created as `prefect work-pool create --type ...` would."""
    with prefect_client(prefect_server.api_url) as client:
        # The base job templates the CLI uses, without 3 slow CLI starts.
        for name, worker in (
            ("ecom-process", ProcessWorker),
            ("ecom-docker", DockerWorker),
            ("ecom-aws", ProcessWorker),
        ):
            client.create_work_pool(
                WorkPoolCreate(name=name, type=worker.type, base_job_template=worker.get_default_base_job_template()),
                overwrite=True,
            )


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
def deployed(
    prefect_server: PrefectServer, work_pools: None, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess:
    """`prefect --no-prompt deploy --all` of the project file (minus the image build) against the server."""
    offline_file = tmp_path_factory.mktemp("deploy") / "prefect.yaml"
    offline_prefect_file(PREFECT_FILE, offline_file)
    return prefect_server.cli("deploy", "--all", "--prefect-file", str(offline_file))


def test_prefect_yaml_docker_deployment_builds_and_pushes_the_pipeline_image() -> None:
    """What the offline deploy leaves out (tests/containers/ builds, pushes and runs it): its wiring."""
    project = yaml.safe_load(PREFECT_FILE.read_text())
    docker = next(d for d in project["deployments"] if d["name"] == "docker")
    build = docker["build"][0][DOCKER_BUILD_STEP]
    push = docker["push"][0][DOCKER_PUSH_STEP]

    assert (REPO_ROOT / build["dockerfile"]).is_file()
    assert build["image_name"] == "ecom-pipeline"
    assert build["id"] == "build-image"
    # Offline the base image exists only in the local engine: ECOM_DOCKER_PULL=false must reach buildx as False.
    assert (build["pull"], build["ca_bundle"]) == ("{{ $ECOM_DOCKER_PULL }}", "{{ $ECOM_BUILD_CA_BUNDLE }}")
    assert build["build_args"] == {"ECOM_PYTHON_IMAGE": "{{ $ECOM_PYTHON_IMAGE }}"}
    assert push["image_name"] == "{{ build-image.image_name }}"
    assert push["tag"] == "{{ build-image.tag }}"
    assert docker["work_pool"]["job_variables"]["image"] == "{{ build-image.image }}"
    assert [d["entrypoint"] for d in project["deployments"]] == ["flows/pipeline.py:ecom_pipeline"] * 3 + [
        "flows/reprocess.py:ecom_reprocess"
    ] * 2


def test_deploy_all_creates_three_deployments_with_pools_and_schedule(
    prefect_server: PrefectServer, deployed: subprocess.CompletedProcess
) -> None:
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]

    local = read_deployment(prefect_server.api_url, "local")
    docker = read_deployment(prefect_server.api_url, "docker")
    aws = read_deployment(prefect_server.api_url, "aws")

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
    # Unset when deploying, pull-step variables stay placeholders that the worker's environment fills in at run
    # time (set, `prefect deploy` writes their values in: tests/docs/test_prefect_doc.py).
    assert local.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $ECOM_REPO_DIR }}"}}
    ]
    assert aws.pull_steps[0]["prefect.deployments.steps.git_clone"]["repository"] == "{{ $ECOM_GIT_REPOSITORY }}"

    assert local.schedules == [] and docker.schedules == []
    [daily] = aws.schedules
    assert daily.active
    assert (daily.schedule.cron, daily.schedule.timezone) == ("0 3 * * *", "UTC")


def test_reprocess_deployments_run_where_local_and_aws_run_and_refuse_a_run_without_dates(
    prefect_server: PrefectServer, deployed: subprocess.CompletedProcess
) -> None:
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]
    with prefect_client(prefect_server.api_url) as client:
        local, aws = (client.read_deployment_by_name(f"ecom-reprocess/reprocess-{name}") for name in ("local", "aws"))
        pipeline = {name: read_deployment(prefect_server.api_url, name) for name in ("local", "aws")}

        for reprocess, twin in ((local, pipeline["local"]), (aws, pipeline["aws"])):
            assert reprocess.entrypoint == "flows/reprocess.py:ecom_reprocess"
            assert (reprocess.work_pool_name, reprocess.pull_steps) == (twin.work_pool_name, twin.pull_steps)
            assert reprocess.job_variables["env"] == twin.job_variables["env"]
            assert reprocess.schedules == [] and reprocess.global_concurrency_limit.limit == 1
            assert reprocess.enforce_parameter_schema
        # The flow's one parameter and its required dates, as the UI shows them.
        schema = local.parameter_openapi_schema
        assert schema["required"] == ["params"]
        assert set(schema["definitions"]["ReprocessParameters"]["required"]) == {"from_date", "to_date"}
        with pytest.raises(PrefectHTTPStatusError, match="from_date"):
            client.create_flow_run_from_deployment(local.id, parameters={"params": {"to_date": "2026-06-17"}})
        run = client.create_flow_run_from_deployment(
            local.id, parameters={"params": {"from_date": "2026-06-16", "to_date": "2026-06-17", "cost_ratio": 0.5}}
        )
        assert run.parameters["params"]["from_date"] == "2026-06-16"
        client.delete_flow_run(run.id)
