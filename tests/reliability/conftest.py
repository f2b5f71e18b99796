"""Session fixtures of the reliability suite; the helpers live in reliability_support.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_support import FaultyRun, OrderRow, oracle_warehouse, run_flow_under_api_faults


@pytest.fixture(scope="session")
def expected_warehouse(dummyjson_dir: Path) -> dict[str, OrderRow]:
    """The fault-free warehouse, computed by the independent oracle instead of by another flow run."""
    return oracle_warehouse(dummyjson_dir)


@pytest.fixture(scope="session")
def faulty_api_run(prefect_harness: None, dummyjson_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FaultyRun:
    """One flow run under API faults and an S3 outage mid-landing, shared by the fault and security tests."""
    return run_flow_under_api_faults(dummyjson_dir, tmp_path_factory.mktemp("faulty-api"))
