"""The container tests' shared parts: a real Docker engine, the offline images, and the compose stack's environment.

CI (CI=true) must run them: .ci/run installs the engine first (docker/offline/install-engine.sh), so a missing
engine there fails. Elsewhere a machine without Docker skips them with one line saying how to get it.
"""

from __future__ import annotations

import os

import pytest
from container_support import COMPOSE_DOC, IMAGES_ENV, INSTALL_HINT, SYSTEM_CA_BUNDLE, engine_problem
from doc_blocks import doc_block, run_block


@pytest.fixture(scope="session")
def offline_env() -> dict[str, str]:
    """The engine and the offline stand-ins, as docs/compose.md sets them up; the environment that selects them."""
    problem = engine_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}: CI must run the container tests (.ci/run installs the engine)")
        pytest.skip(f"{problem}. {INSTALL_HINT}")
    run_block(doc_block(COMPOSE_DOC, "compose-offline-setup"), timeout=1800)
    env = dict(
        line.split("=", 1)
        for line in IMAGES_ENV.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    )
    if SYSTEM_CA_BUNDLE.is_file():  # a TLS-intercepting proxy's CA sits there on machines that have one
        env["ECOM_BUILD_CA_BUNDLE"] = str(SYSTEM_CA_BUNDLE)
    return env
