"""The shell blocks of README.md and docs/*.md, as a user would paste them, for the tests that run them.

Every fenced shell block (```bash, ```sh, ```shell, ```console) carries exactly one of two marks:

- `# needs: aws` (or `snowflake`, `prefect-cloud`, comma-separated) as its first line: it needs an account this
  machine cannot reach, and the reader sees that in the block itself. Docker is not one: the container tests
  (tests/containers/) run a real engine, so a Docker block is run like any other;
- `<!-- doc-test: <id> -->` on the line just before the fence: a test runs it, found by
  `doc_block(path, id)`. `tests/docs/test_doc_marks.py` checks that some test file names every id.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC_FILES: tuple[Path, ...] = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")))
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
KNOWN_NEEDS = frozenset({"aws", "snowflake", "prefect-cloud"})

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
_TEST_ID = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<id>[\w.-]+)\s*-->\s*$")
_NEEDS = re.compile(r"^\s*#\s*needs:\s*(?P<needs>[\w\s,-]+?)\s*$")


@dataclass(frozen=True)
class DocBlock:
    """One fenced shell block: where it is, its mark, and its text as pasted."""

    path: Path
    line: int
    lang: str
    test_id: str | None
    needs: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        """`docs/prefect.md:42`, for messages."""
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def shell_blocks(path: Path) -> list[DocBlock]:
    """Every fenced shell block in `path`, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[DocBlock] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = [line[len(fence["indent"]) :] for line in lines[index + 1 : end]]
        if fence["lang"] in SHELL_LANGUAGES:
            previous = lines[index - 1] if index > 0 else ""
            marked = _TEST_ID.match(previous)
            needs = _NEEDS.match(body[0]) if body else None
            blocks.append(
                DocBlock(
                    path=path,
                    line=index + 1,
                    lang=fence["lang"],
                    test_id=marked["id"] if marked else None,
                    needs=tuple(n.strip() for n in needs["needs"].split(",")) if needs else (),
                    text="\n".join(body) + "\n",
                )
            )
        index = end + 1
    return blocks


def doc_block(path: Path | str, test_id: str) -> DocBlock:
    """The block of `path` (absolute, or relative to the repository) marked `<!-- doc-test: test_id -->`."""
    full = path if Path(path).is_absolute() else REPO_ROOT / path
    found = [block for block in shell_blocks(Path(full)) if block.test_id == test_id]
    assert len(found) == 1, f"{path}: expected one block marked doc-test: {test_id}, found {len(found)}"
    return found[0]


def run_block(
    block: DocBlock, env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a block's text with `bash -euo pipefail` as pasted into a shell at `cwd`; raise with its output on failure.

    The block runs in a process group of its own: on a timeout the whole group is stopped, so a server or worker
    the block started cannot outlive the test.
    """
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{block.where} (doc-test: {block.test_id}) timed out after {timeout:g} s") from None
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert completed.returncode == 0, (
        f"{block.where} (doc-test: {block.test_id}) exited {completed.returncode}\n"
        f"--- block ---\n{block.text}--- stdout ---\n{completed.stdout[-4000:]}\n"
        f"--- stderr ---\n{completed.stderr[-4000:]}"
    )
    return completed
