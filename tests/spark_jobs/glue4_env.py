"""A side environment with Glue 4.0's own versions, built by the tests: Spark 3.3.0 on Python 3.10.

Glue 4.0 runs Spark 3.3.0 on Python 3.10 (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html); the
project's venv runs PySpark 3.5 on Python 3.11+. The environment is built once per machine from PyPI with uv
under ~/.cache/ecom-pipeline/glue4-venv/<versions> and reused while the pinned versions stay the same. A file
lock makes concurrent sessions wait for one build; a marker written last tells a finished build from a killed one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

GLUE4_PYTHON = "3.10"
GLUE4_SPARK = "3.3.0"
# py4j pinned as pyspark 3.3.0 pins it, so the key below names everything installed.
REQUIREMENTS = (f"pyspark=={GLUE4_SPARK}", "py4j==0.10.9.5")
BUILD_TIMEOUT_SECONDS = 600
HOW_TO_GET_PYTHON = (
    f"Python {GLUE4_PYTHON} (Glue 4.0's) not found: install it with `pyenv install 3.10.13` "
    "(https://github.com/pyenv/pyenv), or put a python3.10 on PATH"
)


def python_version(python: Path) -> str | None:
    """`3.10.13` for a working interpreter, None for anything that does not run."""
    try:
        done = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_python310() -> tuple[Path, str]:
    """(interpreter, full version) of a Python 3.10: pyenv's newest 3.10.x, else python3.10 on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(
        pyenv_root.glob(f"versions/{GLUE4_PYTHON}.*/bin/python{GLUE4_PYTHON}"),
        key=lambda path: [int(part) for part in path.parents[1].name.split(".") if part.isdigit()],
        reverse=True,
    )
    on_path = shutil.which(f"python{GLUE4_PYTHON}")
    for python in [*candidates, *([Path(on_path)] if on_path else [])]:
        version = python_version(python)
        if version and version.startswith(f"{GLUE4_PYTHON}."):
            return python, version
    pytest.fail(HOW_TO_GET_PYTHON, pytrace=False)


def cache_root() -> Path:
    """Where the side environments live (one per machine, like the Spark class-data archive)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ecom-pipeline" / "glue4-venv"


def glue4_python() -> Path:
    """The side environment's Python (its bin holds Spark 3.3.0's spark-submit); built on first use."""
    base, version = find_python310()
    name = "-".join([f"py{version}", *(requirement.replace("==", "") for requirement in REQUIREMENTS)])
    venv = cache_root() / name
    complete = venv / ".complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session building the same environment: wait for it
        if not (complete.is_file() and python_version(venv / "bin" / "python") == version):
            build(base, venv)
            complete.write_text("\n".join(REQUIREMENTS) + "\n")
    return venv / "bin" / "python"


def build(base: Path, venv: Path) -> None:
    """A fresh venv on `base` with REQUIREMENTS from PyPI.

    `--no-config`: inside the project uv would apply pyproject's override (pyspark>=3.5) and silently install
    PySpark 3.5 instead. Run from the cache folder for the same reason.
    """
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv not found on PATH: `python3 -m pip install uv==0.13.8` (as .ci/run does)", pytrace=False)
    shutil.rmtree(venv, ignore_errors=True)
    python = venv / "bin" / "python"
    for command in (
        [uv, "venv", "--no-config", "--quiet", "--python", str(base), str(venv)],
        [uv, "pip", "install", "--no-config", "--quiet", "--python", str(python), *REQUIREMENTS],
    ):
        done = subprocess.run(
            command, cwd=venv.parent, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"building the Glue 4 environment failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    installed = subprocess.run(
        [str(python), "-c", "import pyspark; print(pyspark.__version__)"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if installed.stdout.strip() != GLUE4_SPARK:
        pytest.fail(f"the Glue 4 environment has pyspark {installed.stdout.strip()!r}, not {GLUE4_SPARK}")
