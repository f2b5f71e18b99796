"""The local runtime starts real loopback services, exports their endpoints, and cleans up."""

from __future__ import annotations

import os
import socket

import pytest
import requests
import snowflake.connector

from ecom_local.api.data import DirectorySource
from ecom_local.emulators.local import LocalRuntime, require_java
from ecom_local.emulators.ports import resolve_port
from ecom_pipeline.exceptions import RuntimeStartError
from ecom_pipeline.settings import load_settings


def test_runtime_serves_s3_api_and_snowflake_then_restores_env(dummyjson_dir, monkeypatch) -> None:
    monkeypatch.delenv("ECOM_API_BASE_URL", raising=False)
    before = dict(os.environ)
    with LocalRuntime(["raw-rt-test", "curated-rt-test"], DirectorySource(dummyjson_dir)) as endpoints:
        settings = load_settings()
        assert settings.storage.aws_endpoint_url == endpoints.s3_endpoint_url
        assert settings.api.base_url == endpoints.api_url
        assert settings.snowflake.emulator is True

        import boto3

        buckets = {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
        assert {"raw-rt-test", "curated-rt-test"} <= buckets

        body = requests.get(f"{endpoints.api_url}/carts?limit=0", timeout=5).json()
        assert body["total"] == 208 and len(body["carts"]) == 208

        with snowflake.connector.connect(
            account="local",
            user="u",
            password="p",
            host="127.0.0.1",
            port=endpoints.snowflake_port,
            protocol="http",
        ) as conn:
            assert conn.cursor().execute("select 40 + 2").fetchone()[0] == 42
        ports = (endpoints.snowflake_port, int(endpoints.s3_endpoint_url.rsplit(":", 1)[1]))

    assert dict(os.environ) == before
    for port in ports:  # every service is gone: nothing listens any more
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_port_clash_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeStartError, match=rf"port {port} on 127.0.0.1 is already in use"):
            resolve_port("S3 emulator (moto)", port)
        with pytest.raises(RuntimeStartError, match="already in use"):
            LocalRuntime(["raw-clash-test"], s3_port=port, need_java=False).start()


def test_missing_java_is_a_one_line_error(monkeypatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeStartError, match="Java not found") as caught:
        require_java()
    assert "\n" not in str(caught.value)
