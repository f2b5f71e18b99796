"""Warehouse fixtures: one fakesnow server process reading S3 from moto, a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from curated_data import curated_rows, upload_curated

from ecom_local.emulators.fakesnow_server import FakesnowEmulator
from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import bootstrap_warehouse


@pytest.fixture(scope="session")
def fakesnow_emulator(s3_emulator: S3Emulator) -> Iterator[tuple[str, int]]:
    """The Snowflake emulator as a subprocess whose DuckDB reads s3:// from the moto server."""
    env = {
        "AWS_ENDPOINT_URL": s3_emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": os.environ["AWS_DEFAULT_REGION"],
    }
    emulator = FakesnowEmulator(env=env)
    yield emulator.start()
    emulator.stop()


@pytest.fixture(scope="session")
def curated(dummyjson_dir: Path) -> list[dict[str, Any]]:
    """The 800 curated rows of the real snapshot, computed independently in Decimal."""
    return curated_rows(dummyjson_dir)


@pytest.fixture
def warehouse_settings(
    fakesnow_emulator: tuple[str, int], s3_emulator: S3Emulator, s3_buckets: dict[str, str]
) -> Settings:
    """Settings for a database of its own (so tests do not see each other's rows) on the shared emulator."""
    host, port = fakesnow_emulator
    return Settings().updated(
        storage={"curated_bucket": s3_buckets["curated"], "aws_endpoint_url": s3_emulator.endpoint_url},
        snowflake={
            "database": f"TEST_{uuid.uuid4().hex[:12].upper()}",
            "host": host,
            "port": port,
            "protocol": "http",
            "emulator": True,
        },
    )


@pytest.fixture
def curated_partitions(
    warehouse_settings: Settings, s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> list[str]:
    """The curated rows written to this test's bucket; returns the partition dates."""
    storage = warehouse_settings.storage
    return upload_curated(s3_emulator.client(), storage.curated_bucket, storage.curated_prefix, curated)


@pytest.fixture
def bootstrapped(warehouse_settings: Settings) -> Settings:
    """A warehouse with every setup file and view applied."""
    bootstrap_warehouse(warehouse_settings)
    return warehouse_settings
