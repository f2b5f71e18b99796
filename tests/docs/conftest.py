"""One real Prefect server for the docs tests, started from docs/prefect.md's own block."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from doc_blocks import doc_block
from doc_shells import DocServer, on_port, start_block
from prefect_support import server_env, stop_group, wait_healthy

from ecom_local.emulators.ports import free_port


@pytest.fixture(scope="session")
def doc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocServer]:
    """docs/prefect.md's `prefect server start` block, running in the background on a free loopback port."""
    root = tmp_path_factory.mktemp("doc-route")
    port = free_port()
    env = {**os.environ, **server_env(root / "prefect-home")}
    env.pop("PREFECT_API_URL", None)  # each block that needs it exports it, as the doc says
    # Isolated from the repository's .ecom (run summaries, the emulators' state file): tests run in parallel here.
    env["ECOM_WORK_DIR"] = str(root / "work")
    # The worker polls every 15 s by default; a reader just waits, the test polls faster.
    env["PREFECT_WORKER_QUERY_SECONDS"] = "2"
    block = on_port(doc_block("docs/prefect.md", "prefect-server"), port)
    log = root / "server.log"
    server = start_block(block, env, log)
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(api_url, server, log)
        yield DocServer(port=port, api_url=api_url, env=env, work_dir=root / "work")
    finally:
        stop_group(server, signal.SIGINT)  # Ctrl-C in the server's shell
