"""Paths of the infrastructure files and small helpers shared by the tests in tests/infra."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
TEMPLATE = REPO_ROOT / "infra" / "ecom-pipeline.yaml"
HADOLINT_CONFIG = REPO_ROOT / ".hadolint.yaml"
YAMLLINT_CONFIG = REPO_ROOT / ".yamllint"
COMPOSE_DOC = REPO_ROOT / "docs" / "compose.md"
AWS_DOC = REPO_ROOT / "docs" / "aws.md"
PREFECT_YAML = REPO_ROOT / "prefect.yaml"
INIT_HOOKS = REPO_ROOT / "docker" / "localstack-init" / "ready.d"
JOB_RUNNER = REPO_ROOT / "docker" / "glue" / "job_runner.py"

# Images built from docker/Dockerfile (its runtime and emulators targets): their containers run the `ecom-pipeline`
# CLI, so their command is the CLI's arguments.
OUR_IMAGES = ("ecom-pipeline:local", "ecom-pipeline-emulators:local")
_DEFAULTED = re.compile(r"\$\{\w+(?::-(?P<default>[^}]*)|:\+[^}]*)\}")


def with_defaults(text: str) -> str:
    """A compose value with every `${VAR:-default}` as its default and every `${VAR:+value}` as "" (VAR unset)."""
    return _DEFAULTED.sub(lambda match: match["default"] or "", text)


def tool_path(name: str) -> str:
    """A dev tool from this virtual environment (falling back to PATH), so tests never use a stray copy."""
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    assert found, f"{name} is not installed: run `uv sync` (it is in the dev dependency group)"
    return found


def uses_our_image(service: dict[str, Any]) -> bool:
    """True for services that run the image built from docker/Dockerfile."""
    build = service.get("build") or {}
    return service.get("image") in OUR_IMAGES or build.get("dockerfile") == "docker/Dockerfile"
