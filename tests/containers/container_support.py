"""What the container tests share besides fixtures: the docker CLI, the compose doc, the offline images' names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from doc_blocks import REPO_ROOT

COMPOSE_DOC = REPO_ROOT / "docs" / "compose.md"
IMAGES_ENV = REPO_ROOT / "docker" / "offline" / "images.env"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_HINT = "Docker is not available: run docker/offline/install-engine.sh as root (Debian 12), or install Docker"


def docker(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI in the repository root and return the finished process (no check)."""
    return subprocess.run(
        ["docker", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def engine_problem() -> str | None:
    """Why the container tests cannot run here, or None: an engine that answers, Compose v2 and buildx."""
    try:
        for args in (["info"], ["compose", "version"], ["buildx", "version"]):
            if docker(*args, timeout=30).returncode != 0:
                return f"`docker {' '.join(args)}` failed"
    except FileNotFoundError:
        return "no docker CLI"
    return None
