"""Session fixtures shared by every test: paths to the real DummyJSON data, an isolated environment, the S3 emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ecom_local.emulators.s3 import EMULATOR_ACCESS_KEY, EMULATOR_REGION, EMULATOR_SECRET_KEY, S3Emulator

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

# The one rule of the fast tier (`uv run pytest -m "not slow"`, the edit-test loop): a test is slow when it starts
# Spark, a Prefect API (every flow run needs one), the Snowflake emulator, Docker, the IAM-enforcing stack or the
# bench, i.e. when it needs one of SLOW_FIXTURES or its node id under tests/ starts with one of SLOW_NODES.
SLOW_FIXTURES = frozenset(
    {
        "spark",  # the in-process SparkSession
        "job_settings",  # the job by spark-submit
        "prefect_harness",  # a Prefect API
        "prefect_server",
        "doc_server",
        "fakesnow_emulator",  # the Snowflake emulator: 2-8 s a test to set up a database and load it
    }
)
SLOW_NODES = (
    "aws/",  # the IAM-enforcing stack
    "bench/",
    "containers/",  # Docker
    "reliability/test_bad_input_transform.py",  # the job by spark-submit
    "infra/test_job_runner.py::test_runner_runs_spark_jobs",  # the Glue container's runner, running Spark
    "runtime/test_prefect_api.py::test_the_api_serves_prefect",  # a Prefect API
    "test_cli.py::test_emulators_up",  # the emulators and a Prefect API
    "test_cli.py::test_a_failed_run",  # a flow run on its own emulators and Prefect API
)


_COLLECTED = pytest.StashKey[list[pytest.Item]]()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests SLOW_FIXTURES and SLOW_NODES name as `slow`."""
    tests = Path(__file__).parent
    for item in items:
        where = "::".join([item.path.relative_to(tests).as_posix(), *item.nodeid.split("::")[1:]])
        if SLOW_FIXTURES.intersection(item.fixturenames) or where.startswith(SLOW_NODES):
            item.add_marker(pytest.mark.slow)
    config.stash[_COLLECTED] = list(items)


@pytest.fixture(scope="session")
def collected_items(pytestconfig: pytest.Config) -> list[pytest.Item]:
    """Every test this session collected, those `-m` deselected included (for tests/test_fast_tier.py)."""
    return pytestconfig.stash[_COLLECTED]


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
