"""The shells of a doc's route: blocks left running (a server, the emulators, a worker) and shells reused in turn."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from doc_blocks import REPO_ROOT, DocBlock, doc_block, run_block

DOC_PORT = "4200"  # the Prefect port the docs use; tests put a free port in its place


def on_port(block: DocBlock, port: int) -> DocBlock:
    """`block` with the docs' Prefect port replaced by `port` (4200 may be taken on the machine running tests)."""
    return dataclasses.replace(block, text=block.text.replace(DOC_PORT, str(port)))


def start_block(block: DocBlock, env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """Start a long-running block in the background, in its own process group (what a terminal's Ctrl-C reaches)."""
    with log.open("w") as out:
        return subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.text],
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Wait until `ready()`; fail with the block's output if its process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"{what}: exited with {process.returncode} before it was ready:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready after {timeout} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


@dataclass(frozen=True)
class DocServer:
    """The server a reader starts in shell 1, and the environment every shell of the docs' route shares."""

    port: int
    api_url: str
    env: dict[str, str]
    work_dir: Path

    def block(self, path: str, test_id: str) -> DocBlock:
        """A block of `path` as it runs against this server."""
        return on_port(doc_block(path, test_id), self.port)


@dataclass
class Shell:
    """One shell the doc's reader keeps using: the variables its earlier blocks exported still hold."""

    server: DocServer
    exports: list[str] = field(default_factory=list)

    def run(self, path: str, test_id: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a block in this shell, after the `export` lines of the blocks run in it before."""
        block = self.server.block(path, test_id)
        completed = run_block(dataclasses.replace(block, text="".join(self.exports) + block.text), self.server.env,
                              timeout=timeout)  # fmt: skip
        self.exports += [line + "\n" for line in block.text.splitlines() if line.startswith("export ")]
        return completed
