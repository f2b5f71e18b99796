"""docker compose up, the images and the docker work pool, for real: docs/compose.md's commands on a real engine.

One stack serves the module, in document order: the one-shot `up` on the 2026-06 DummyJSON snapshot, what it left
in LocalStack and the Prefect server, the images, the docker deployment on the stack's worker, a Glue container
stopped mid-run, the next `up`, and `down -v`. Every image comes from docker/offline/build-images.sh.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from container_support import COMPOSE_DOC, REPO_ROOT, docker
from doc_blocks import doc_block, run_block
from sensitive_data import object_text, sensitive_values

pytestmark = pytest.mark.timeout(2400)

PROJECT = "ecom-pipeline"  # docker-compose.yml's `name:`; prefect.yaml's docker deployment names its network after it
LEAN_IMAGE, EMULATORS_IMAGE = "ecom-pipeline:local", "ecom-pipeline-emulators:local"
PREFECT_API = "http://127.0.0.1:4200/api"
STAGE_LOGGERS = "ecom_pipeline."  # the stages' own loggers, whose lines the flow sends to the run's logs
GLUE_STOPPED = "Glue container job: the `glue` service stopped answering"
LEAN_LIMIT_BYTES = 800 * 10**6
LOCALSTACK_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # pragma: allowlist secret


@dataclass(frozen=True)
class Stack:
    """The stack after the documented one-shot `up`: its environment, the host's summary folder, the `up` output."""

    env: dict[str, str]
    out_dir: Path
    up_output: str


def dangling_images() -> set[str]:
    return set(docker("image", "ls", "--quiet", "--filter", "dangling=true").stdout.split())


def tear_down(env: dict[str, str]) -> None:
    docker("compose", "down", "--volumes", "--remove-orphans", env=env, timeout=300)
    docker("rm", "--force", "ecom-registry")


def summary(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))


def prefect_post(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.post(f"{PREFECT_API}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def stage_lines(flow_run_id: str) -> list[str]:
    """The flow run's log lines in the Prefect server that the stages' own loggers wrote."""
    logs = prefect_post("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
    return [log["message"] for log in logs if log["name"].startswith(STAGE_LOGGERS)]


@pytest.fixture(scope="module")
def stack(
    offline_env: dict[str, str], dummyjson_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    out_dir = tmp_path_factory.mktemp("compose-out")
    env = {**offline_env, "ECOM_COMPOSE_DATA_DIR": str(dummyjson_dir), "ECOM_COMPOSE_OUT_DIR": str(out_dir)}
    tear_down(env)
    up = run_block(doc_block(COMPOSE_DOC, "compose-one-shot"), env=env, timeout=1800)
    yield Stack(env=env, out_dir=out_dir, up_output=up.stdout + up.stderr)
    tear_down(env)


def test_the_one_shot_up_loads_the_snapshot_to_the_cent(stack: Stack) -> None:
    result = summary(stack.out_dir)
    assert result["profile"] == "compose"
    assert result["kpis"]["total_orders"] == 800
    assert (result["kpis"]["total_revenue"], result["kpis"]["total_profit"]) == ("3834278.63", "1533721.12")
    assert "Total Revenue   │ 3,834,278.63" in stack.up_output


def test_the_stack_prefect_server_holds_the_completed_run_its_artifacts_and_stage_lines(stack: Stack) -> None:
    runs = prefect_post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
    assert len(runs) == 1, [run["name"] for run in runs]
    artifacts = prefect_post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [runs[0]["id"]]}}})
    keys = {artifact["key"] for artifact in artifacts if artifact["key"]}
    assert keys >= {"ecom-kpis", "ecom-reconciliation"}, keys
    assert stage_lines(runs[0]["id"])


def test_no_sensitive_value_of_the_snapshot_reaches_the_buckets(stack: Stack, dummyjson_dir: Path) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:4566",
        region_name="us-east-1",
        **LOCALSTACK_KEYS,
    )
    places = {}
    for bucket in ("ecom-raw", "ecom-curated"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                places[f"s3://{bucket}/{item['Key']}"] = object_text(item["Key"], body)
    assert any(key.endswith(".parquet") for key in places) and any(key.endswith(".gz") for key in places)
    secrets = sensitive_values(dummyjson_dir)
    assert len(secrets) > 1000
    leaks = [(secrets[value], place) for place, text in places.items() for value in secrets if value in text]
    assert leaks == []


def test_our_images_run_as_a_non_root_user(stack: Stack) -> None:
    for image in (LEAN_IMAGE, EMULATORS_IMAGE):
        assert docker("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip() == "10000:10000"
    # The pipeline's files on the host are the image user's, not root's.
    assert (stack.out_dir / "summary.json").stat().st_uid == 10000


def test_compose_builds_each_image_once_and_leaves_no_dangling_image(stack: Stack) -> None:
    config = json.loads(docker("compose", "config", "--format", "json", env=stack.env).stdout)
    built = {name: service["image"] for name, service in config["services"].items() if "build" in service}
    assert sorted(built.values()) == sorted([LEAN_IMAGE, EMULATORS_IMAGE])
    # What `up --build` does again: with nothing changed it must leave no superseded copy behind.
    before = dangling_images()
    rebuilt = docker("compose", "build", env=stack.env, timeout=900)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert dangling_images() <= before


def test_the_lean_image_runs_the_flow_without_spark_java_or_emulators(stack: Stack) -> None:
    run_block(doc_block(COMPOSE_DOC, "compose-build-image"), env=stack.env, timeout=900)
    size = int(docker("image", "inspect", "--format", "{{.Size}}", LEAN_IMAGE).stdout)
    emulators_size = int(docker("image", "inspect", "--format", "{{.Size}}", EMULATORS_IMAGE).stdout)
    print(f"image sizes: {LEAN_IMAGE} {size / 1e6:.0f} MB, {EMULATORS_IMAGE} {emulators_size / 1e6:.0f} MB")
    assert size <= LEAN_LIMIT_BYTES
    assert docker("run", "--rm", LEAN_IMAGE, "run", "--help").returncode == 0
    imports = (
        "import importlib.util as u, flows.pipeline, flows.reprocess, ecom_pipeline.transform.glue, "
        "ecom_pipeline.warehouse.loader, ecom_pipeline.credentials.blocks; "
        "print([m for m in ('pyspark', 'moto', 'fakesnow', 'duckdb') if u.find_spec(m)])"
    )
    checked = docker("run", "--rm", "--entrypoint", "python", LEAN_IMAGE, "-c", imports)
    assert (checked.returncode, checked.stdout.strip()) == (0, "[]"), checked.stderr
    assert docker("run", "--rm", "--entrypoint", "sh", LEAN_IMAGE, "-c", "command -v java").returncode != 0


def test_the_documented_s3_listing_shows_the_curated_partitions(stack: Stack) -> None:
    listing = run_block(doc_block(COMPOSE_DOC, "compose-s3-ls"), env=stack.env).stdout
    assert re.search(r"orders/order_date=\d{4}-\d{2}-\d{2}/part-.*\.snappy\.parquet", listing), listing


def test_the_docker_work_pool_runs_the_deployment_in_a_flow_run_container(stack: Stack, tmp_path: Path) -> None:
    env = {**stack.env, "PREFECT_HOME": str(tmp_path / "prefect")}
    watched = run_block(doc_block(COMPOSE_DOC, "compose-docker-deployment"), env=env, timeout=900)
    assert "Completed" in watched.stdout
    [deployment] = prefect_post("/deployments/filter", {"deployments": {"name": {"any_": ["docker"]}}})
    runs = prefect_post("/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}})
    assert [(run["state_type"], run["work_pool_name"]) for run in runs] == [("COMPLETED", "ecom-docker")]
    assert runs[0]["infrastructure_pid"], "the docker worker records the container it started"
    assert stage_lines(runs[0]["id"])


def test_a_glue_container_stopped_mid_run_fails_the_run_in_one_clear_line(stack: Stack) -> None:
    taken_before = docker("compose", "logs", "glue", env=stack.env).stdout.count("job_runner: running")
    run = subprocess.Popen(
        # Another ingest date, so that the Spark job runs instead of reusing the earlier runs' output.
        [
            "docker",
            "compose",
            "run",
            "--rm",
            "-T",
            "pipeline",
            "run",
            "--profile",
            "compose",
            "--run-date",
            "2026-06-17",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **stack.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while docker("compose", "logs", "glue", env=stack.env).stdout.count("job_runner: running") == taken_before:
        assert run.poll() is None and time.monotonic() < deadline, "the Glue container never took the job"
        time.sleep(1)
    assert docker("compose", "stop", "glue", env=stack.env).returncode == 0
    stopped = time.monotonic()
    output, _ = run.communicate(timeout=300)
    assert run.returncode != 0, output
    assert time.monotonic() - stopped < 120, "the run noticed the stopped container late"
    # The run's last word is one line naming the service; above it are the run's own logs (Prefect's included).
    last_line = [line for line in output.splitlines() if line.strip()][-1]
    assert last_line.startswith(f"error: stage transform failed: {GLUE_STOPPED}"), output[-3000:]
    assert sum(line.startswith("error:") for line in output.splitlines()) == 1, output[-3000:]


def test_the_next_up_succeeds(stack: Stack) -> None:
    first = summary(stack.out_dir)
    run_block(doc_block(COMPOSE_DOC, "compose-detach"), env=stack.env, timeout=900)
    again = summary(stack.out_dir)
    assert again["run_id"] != first["run_id"]
    assert again["kpis"] == first["kpis"]
    run_block(doc_block(COMPOSE_DOC, "compose-run-again"), env=stack.env, timeout=900)
    assert summary(stack.out_dir)["kpis"] == first["kpis"]


def test_down_leaves_no_container_network_or_volume_of_the_project(stack: Stack) -> None:
    run_block(doc_block(COMPOSE_DOC, "compose-down"), env=stack.env, timeout=300)
    label = f"label=com.docker.compose.project={PROJECT}"
    assert docker("ps", "--all", "--quiet", "--filter", label).stdout.split() == []
    assert docker("network", "ls", "--quiet", "--filter", label).stdout.split() == []
    assert docker("volume", "ls", "--quiet", "--filter", label).stdout.split() == []
    assert docker("ps", "--all", "--quiet", "--filter", "name=ecom-registry").stdout.split() == []


def test_the_documented_minimums_are_no_higher_than_what_these_tests_ran_on() -> None:
    """docs/compose.md's prerequisites are measured: the engine and Compose here meet them, not more."""
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    engine_minimum = re.search(r"Docker Engine \*\*(\d+\.\d+) or newer\*\*", text)
    compose_minimum = re.search(r"Compose plugin \*\*(\d+\.\d+) or newer\*\*", text)
    assert engine_minimum and compose_minimum, "docs/compose.md must state the Engine and Compose minimums"

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:2])

    engine = docker("version", "--format", "{{.Server.Version}}").stdout
    compose = docker("compose", "version", "--short").stdout
    assert version(engine_minimum[1]) <= version(engine), engine
    assert version(compose_minimum[1]) <= version(compose), compose
