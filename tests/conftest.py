"""Session fixtures shared by every test: paths to the real DummyJSON data, an isolated environment, the S3 emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ecom_pipeline.runtime.s3 import EMULATOR_ACCESS_KEY, EMULATOR_REGION, EMULATOR_SECRET_KEY, S3Emulator

if TYPE_CHECKING:
    from prefect_support import PrefectServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DUMMYJSON = REPO_ROOT.parent / "shared" / "dummyjson"

# Tests never talk to real AWS or Snowflake, and never read a developer's `.env` values for them.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
        "AWS_DEFAULT_REGION": EMULATOR_REGION,
        "AWS_REGION": EMULATOR_REGION,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
)


@pytest.fixture(scope="session")
def dummyjson_dir() -> Path:
    """The real DummyJSON snapshot with 208 users, 194 products, 208 carts (800 lines)."""
    path = SHARED_DUMMYJSON / "2026-06"
    assert (path / "carts.json").is_file(), f"real DummyJSON data expected at {path}"
    return path


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[S3Emulator]:
    """One moto S3 server for the whole session."""
    emulator = S3Emulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def s3_buckets(s3_emulator: S3Emulator, request: pytest.FixtureRequest) -> dict[str, str]:
    """Fresh, uniquely named raw and curated buckets for one test."""
    suffix = abs(hash(request.node.nodeid)) % 10**10
    buckets = {"raw": f"raw-{suffix}", "curated": f"curated-{suffix}"}
    s3_emulator.create_buckets(buckets.values())
    return buckets


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One ephemeral Prefect API for the session (it takes 12-16 s to start here)."""
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    previous = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = str(home)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = previous


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real `prefect server start` for the session's tests that need a server of their own (deployments,
    automations): unlike the harness it runs the automation services, and other processes can reach it."""
    from prefect_support import running_prefect_server

    with running_prefect_server(tmp_path_factory.mktemp("prefect-server-home")) as server:
        yield server


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[1] SparkSession for every in-process Spark test (UI off, one shuffle partition: tiny data)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("ecom-pipeline-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
