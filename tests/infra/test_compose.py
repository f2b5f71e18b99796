"""docker-compose.yml against the real CLI, its own start order, the Dockerfile and docs/compose.md."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from infra_paths import (
    AWS_DOC,
    COMPOSE_DOC,
    DOCKERFILE,
    INIT_HOOKS,
    OUR_IMAGES,
    PREFECT_YAML,
    uses_our_image,
    with_defaults,
)

from ecom_cli.app import app

OFFLINE_IMAGES = COMPOSE_DOC.parents[1] / "docker" / "offline" / "images.env"

PUBLISHED_PORT = re.compile(r"^127\.0\.0\.1:(\d+):(\d+)$")
# The one host path a service may mount besides the repository's: the Docker socket, for the docker worker.
DOCKER_SOCKET_BIND = "${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock"
# Typer may run on click or on its own vendored copy of it; either way its UsageError is here.
UsageError: type[Exception] = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError")


def cli_command() -> Any:
    """The click command behind the typer app, i.e. what the `ecom-pipeline` entry point runs."""
    return typer.main.get_command(app)


def check_cli_args(args: list[str]) -> str:
    """Resolve `args` (without the program name) to a sub-command and parse its options like the CLI would.

    Returns the sub-command path, e.g. `emulators up`. Raises UsageError for an unknown
    command or option, a missing option value or a value of the wrong type.
    """
    command = cli_command()
    path: list[str] = []
    remaining = list(args)
    while hasattr(command, "commands"):  # a group: the next word names a sub-command
        if not remaining:
            raise UsageError(f"`ecom-pipeline {' '.join(path)}` needs a sub-command")
        name = remaining.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            raise UsageError(f"no such command {name!r}; known: {sorted(command.commands)}")
        path.append(name)
        command = sub
    # make_context parses and converts every option (types, choices) without running the command.
    command.make_context(" ".join(path), remaining)
    return " ".join(path)


def container_argv(service: dict[str, Any]) -> list[str]:
    """The argv a service's container starts with: entrypoint plus command, as Docker combines them."""

    def as_list(value: str | list[str] | None) -> list[str]:
        return shlex.split(value) if isinstance(value, str) else list(value or [])

    entrypoint = as_list(service.get("entrypoint"))
    if not entrypoint and uses_our_image(service):
        entrypoint = ["ecom-pipeline"]  # the image's ENTRYPOINT
    return entrypoint + as_list(service.get("command"))


def cli_invocations(compose: dict[str, Any]) -> dict[str, list[str]]:
    """`ecom-pipeline` arguments per service, for every service whose container runs the CLI."""
    invocations = {}
    for name, service in compose["services"].items():
        argv = container_argv(service)
        if argv and argv[0] == "ecom-pipeline":
            invocations[name] = argv[1:]
    return invocations


def doc_cli_invocations(text: str) -> list[list[str]]:
    """`ecom-pipeline ...` command lines from a document's bash blocks and inline code spans."""
    invocations = [shlex.split(span)[1:] for span in re.findall(r"`(ecom-pipeline [^`]+)`", text)]
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if re.match(r"\s*(uv run )?ecom-pipeline\b", line):
                words = shlex.split(line, comments=True)
                invocations.append(words[words.index("ecom-pipeline") + 1 :])
    return invocations


def test_the_dockerfile_entrypoint_is_the_cli() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["ecom-pipeline"]' in text
    assert re.search(r"^USER \d+:\d+$", text, flags=re.MULTILINE), "USER must be numeric"


def test_every_cli_call_in_compose_uses_real_commands_and_options(compose: dict[str, Any]) -> None:
    invocations = cli_invocations(compose)
    resolved = {service: check_cli_args(args) for service, args in invocations.items()}
    # Guard against a vacuous pass: these services must be found and must run these commands.
    assert resolved == {
        "snowflake": "serve-snowflake",
        "api": "serve-api",
        "bootstrap": "bootstrap-warehouse",
        "pipeline": "run",
    }


def test_the_cli_check_rejects_what_the_cli_would_reject() -> None:
    assert check_cli_args(["run", "--profile", "compose"]) == "run"
    with pytest.raises(UsageError):
        check_cli_args(["run", "--profil", "compose"])
    with pytest.raises(UsageError):
        check_cli_args(["serve-api", "--port", "eighty"])
    with pytest.raises(UsageError):
        check_cli_args(["serve-everything"])


@pytest.mark.parametrize("doc", [COMPOSE_DOC, AWS_DOC], ids=lambda path: path.name)
def test_every_cli_call_in_the_docs_uses_real_commands_and_options(doc: Any) -> None:
    invocations = doc_cli_invocations(doc.read_text(encoding="utf-8"))
    assert invocations, f"{doc.name} shows no ecom-pipeline command"
    for args in invocations:
        check_cli_args(args)


def test_published_ports_are_bound_to_loopback(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert PUBLISHED_PORT.match(str(port)), f"{name}: {port!r} is not 127.0.0.1:HOST:CONTAINER"


def test_start_order_is_declared_by_health_and_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} needs a healthcheck for {name}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}: {condition}"
                assert services[dependency].get("restart") == "no", f"{dependency} must be one-shot"
    assert services["pipeline"]["restart"] == "no"
    assert set(services["pipeline"]["depends_on"]) >= {"bootstrap", "glue", "api", "prefect-server"}


def test_images_are_pinned_and_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    named_volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        image = with_defaults(str(service.get("image", "")))
        pinned = ":" in image and not image.endswith(":latest")
        assert pinned, f"{name}: pin the image ({image!r})"
        for volume in service.get("volumes", []):
            source = with_defaults(volume).split(":", 1)[0]
            if volume == DOCKER_SOCKET_BIND:
                assert name == "prefect-worker", f"{name}: only the docker worker holds the Docker socket"
            elif not source.startswith("./"):
                assert source in named_volumes, f"{name}: volume {source} is not declared"
    assert "${LOCALSTACK_IMAGE:-localstack/localstack:4." in compose["services"]["localstack"]["image"]


def test_every_image_can_be_replaced_without_editing_a_file(compose: dict[str, Any]) -> None:
    """Where no registry is reachable, every image must be one the user names (docker/offline/images.env)."""
    for name, service in compose["services"].items():
        image = str(service["image"])
        assert image in OUR_IMAGES or re.fullmatch(r"\$\{\w+:-[^}]+\}", image), f"{name}: {image} is hard-coded"
    # Our own images build once each, on a base the user names too.
    built = {name: service for name, service in compose["services"].items() if "build" in service}
    assert {service["image"] for service in built.values()} == set(OUR_IMAGES)
    assert len(built) == len(OUR_IMAGES), f"each image must be built by one service only, not {sorted(built)}"
    for service in built.values():
        assert service["build"]["args"]["ECOM_PYTHON_IMAGE"] == "${ECOM_PYTHON_IMAGE:-python:3.11-slim-bookworm}"
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "ARG ECOM_PYTHON_IMAGE=python:3.11-slim-bookworm" in dockerfile
    assert {line for line in dockerfile.splitlines() if line.startswith("FROM ${")} == {
        "FROM ${ECOM_PYTHON_IMAGE} AS builder",
        "FROM ${ECOM_PYTHON_IMAGE} AS base",
    }
    offline = dict(
        line.split("=", 1) for line in OFFLINE_IMAGES.read_text(encoding="utf-8").splitlines() if "=" in line
    )
    named = {
        match for service in compose["services"].values() for match in re.findall(r"\$\{(\w+):-", service["image"])
    }
    assert named | {"ECOM_PYTHON_IMAGE"} <= set(offline), "docker/offline/images.env must name every image"


def test_no_dockerfile_asks_a_registry_for_its_frontend() -> None:
    """`# syntax=` makes BuildKit pull a frontend image from Docker Hub, which fails offline."""
    for path in [DOCKERFILE, *OFFLINE_IMAGES.parent.glob("*.Dockerfile")]:
        first_lines = path.read_text(encoding="utf-8").splitlines()[:5]
        assert not [line for line in first_lines if re.match(r"#\s*syntax\s*=", line)], path


def test_glue_and_pipeline_share_the_jobs_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "jobs:/jobs" in services["glue"]["volumes"]
    assert "jobs:/jobs" in services["pipeline"]["volumes"]
    # The job arrives with each request, staged on the shared volume by the pipeline (no mount of spark_jobs/).
    assert not [volume for volume in services["glue"]["volumes"] if "spark_jobs" in volume]
    assert "python3 /opt/glue/job_runner.py" in " ".join(services["glue"]["entrypoint"])


def test_compose_doc_lists_every_service_with_its_published_port(compose: dict[str, Any]) -> None:
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    rows = {}
    for match in re.finditer(r"^\| `([a-z-]+)` \| (.*)$", text, flags=re.MULTILINE):
        rows[match.group(1)] = match.group(2)
    assert set(rows) == set(compose["services"]), "the service table in docs/compose.md is out of date"
    for name, service in compose["services"].items():
        published = {f"127.0.0.1:{PUBLISHED_PORT.match(p).group(1)}" for p in service.get("ports", [])}
        documented = set(re.findall(r"127\.0\.0\.1:\d+", rows[name]))
        assert documented == published, f"{name}: docs say {documented}, compose publishes {published}"


def test_compose_doc_shows_start_ui_and_cleanup(compose: dict[str, Any]) -> None:
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    assert "docker compose up --build" in text
    assert "docker compose down -v" in text
    ui_port = PUBLISHED_PORT.match(compose["services"]["prefect-server"]["ports"][0]).group(1)
    assert f"http://127.0.0.1:{ui_port}" in text
    # The job runner contract names the folders the runner really uses.
    for folder in ("/jobs/requests/", "/jobs/results/", "/jobs/running/", "/jobs/logs/"):
        assert folder in text


def docker_deployments(prefect_project: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployments of prefect.yaml whose work pool starts containers of our image (the `docker` one)."""
    return [
        deployment
        for deployment in prefect_project["deployments"]
        if "networks" in deployment["work_pool"].get("job_variables", {})
    ]


def test_prefect_docker_deployment_joins_the_compose_network_volumes_and_endpoints(
    compose: dict[str, Any],
) -> None:
    project = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = docker_deployments(project)
    job = deployment["work_pool"]["job_variables"]
    prefix = compose["name"]
    assert job["networks"] == [f"{prefix}_default"]
    for volume in job["volumes"]:
        name, target = volume.split(":", 1)
        assert name.removeprefix(f"{prefix}_") in compose["volumes"], f"{name} is not a compose volume"
        assert f"{name.removeprefix(prefix + '_')}:{target}" in compose["services"]["pipeline"]["volumes"]
    compose_env = compose["x-ecom-env"]
    for key, value in job["env"].items():
        if key in compose_env:
            assert str(value) == str(compose_env[key]), f"{key}: prefect.yaml {value!r} != compose {compose_env[key]!r}"


def test_prefect_docker_deployment_replaces_the_image_entrypoint() -> None:
    # The docker worker only sets the container's command (`prefect flow-run execute`); with the image's
    # ENTRYPOINT ["ecom-pipeline"] that would run `ecom-pipeline prefect flow-run execute`. The job must
    # replace the entrypoint, e.g. job_variables.container_create_kwargs: {entrypoint: ["/usr/bin/env"]}.
    project = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    for deployment in docker_deployments(project):
        kwargs = deployment["work_pool"]["job_variables"].get("container_create_kwargs", {})
        entrypoint = kwargs.get("entrypoint")
        assert entrypoint and "ecom-pipeline" not in entrypoint, (
            f"deployment {deployment['name']!r} must override the image's ENTRYPOINT for the docker worker"
        )


def test_localstack_init_hook_creates_the_buckets_the_pipeline_uses(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    assert "./docker/localstack-init/ready.d:/etc/localstack/init/ready.d:ro" in localstack["volumes"]
    hooks = sorted(INIT_HOOKS.glob("*.sh"))
    assert hooks and all(os.access(hook, os.X_OK) for hook in hooks), "LocalStack runs only executable hooks"
    for hook in hooks:
        assert subprocess.run(["bash", "-n", str(hook)], check=False).returncode == 0
    buckets = {compose["x-ecom-env"]["ECOM_RAW_BUCKET"], compose["x-ecom-env"]["ECOM_CURATED_BUCKET"]}
    assert {
        localstack["environment"]["ECOM_RAW_BUCKET"],
        localstack["environment"]["ECOM_CURATED_BUCKET"],
    } == buckets
    health = " ".join(localstack["healthcheck"]["test"])
    assert all(f"head-bucket --bucket {bucket}" in health for bucket in buckets)


def worker_options(service: dict[str, Any]) -> dict[str, str]:
    """`--pool`, `--type` and friends of a `prefect worker start` container command."""
    argv = container_argv(service)
    assert argv[:3] == ["prefect", "worker", "start"], argv
    return {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1) if argv[i].startswith("--")}


def test_the_compose_worker_polls_the_pool_the_docker_deployment_targets(compose: dict[str, Any]) -> None:
    project = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = docker_deployments(project)
    worker = compose["services"]["prefect-worker"]
    options = worker_options(worker)
    assert options["--pool"] == deployment["work_pool"]["name"] == "ecom-docker"
    assert options["--type"] == "docker"  # the pool it creates if missing has the docker worker's job template
    # It starts the flow-run containers through the host's engine, whose socket needs root on most hosts.
    assert DOCKER_SOCKET_BIND in worker["volumes"]
    assert str(worker["user"]).split(":")[0] == "0"
    # Its own Prefect client talks to the compose server, like every flow-run container it starts.
    assert (
        worker["environment"]["PREFECT_API_URL"] == deployment["work_pool"]["job_variables"]["env"]["PREFECT_API_URL"]
    )


def test_docker_flow_runs_reach_the_compose_prefect_server_by_its_service_name(compose: dict[str, Any]) -> None:
    # prefect-docker gives a container the worker's own API URL unless the job's env sets one, and rewrites a
    # 127.0.0.1 URL to host.docker.internal, where the server (published on the host's loopback only) is not.
    project = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = docker_deployments(project)
    api_url = urlsplit(deployment["work_pool"]["job_variables"]["env"]["PREFECT_API_URL"])
    server = compose["services"][api_url.hostname]
    assert server["command"][:3] == ["prefect", "server", "start"]
    container_ports = {int(PUBLISHED_PORT.match(port).group(2)) for port in server["ports"]}
    assert api_url.port in container_ports and api_url.path == "/api"
    assert api_url.geturl() == compose["x-ecom-env"]["PREFECT_API_URL"]


def test_compose_doc_one_shot_run_is_not_torn_down_by_the_one_shot_services() -> None:
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    one_shot = [
        line for line in re.findall(r"^docker compose up .*$", text, flags=re.MULTILINE) if "--exit-code-from" in line
    ]
    assert one_shot, "docs/compose.md shows no `docker compose up --exit-code-from` command"
    for command in one_shot:
        words = command.split()
        # --exit-code-from implies --abort-on-container-exit unless --abort-on-container-failure is given
        # (docker/compose cmd/compose/up.go, since 2.27.0): bootstrap's exit 0 would stop the stack first.
        assert "--abort-on-container-failure" in words and "--abort-on-container-exit" not in words, command
        # `up` returns once the attached services have exited: only the pipeline, not the long-running ones.
        assert words[words.index("--attach") + 1] == words[words.index("--exit-code-from") + 1] == "pipeline"
    assert "Compose plugin **2.27 or newer**" in text
