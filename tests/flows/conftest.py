"""Flow fixtures: one clean pair of runs shared by every flow test module (a run takes ~40 s here)."""

from __future__ import annotations

from typing import Any

import pytest
from flow_support import run_flow


@pytest.fixture(scope="session")
def clean_runs(prefect_harness, dummyjson_dir, tmp_path_factory) -> list[tuple[Any, Any, list[dict[str, Any]]]]:
    """A clean run, then the same date again with unchanged source data."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_flow(dummyjson_dir, tmp_path_factory.mktemp("clean"), monkeypatch, runs=2)
