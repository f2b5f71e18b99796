"""Fixtures for the container and AWS infrastructure checks: parsed files and the lint tools."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from infra_paths import COMPOSE_FILE, REPO_ROOT, TEMPLATE, tool_path


@pytest.fixture(scope="session")
def run_tool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a lint tool from the venv in the repository root and return the finished process."""

    def run(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool_path(name), *map(str, args)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed (anchors and merge keys resolved by the YAML loader)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The CloudFormation template, parsed with cfn-lint's loader (it understands `!Sub`, `!GetAtt`...)."""
    return cfn_yaml.load(str(TEMPLATE))
