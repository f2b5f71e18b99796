"""Finding the emulators `emulators up` keeps running: its state file, liveness, the data it serves, reuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecom_local.emulators.ports import free_port
from ecom_local.emulators.running import (
    check_same_source,
    local_emulators,
    record_emulators,
    running_emulators,
    source_spec,
)
from ecom_local.emulators.s3 import S3Emulator, emulator_env
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import load_settings

SYNTHETIC = {"synthetic_carts": 40, "seed": 42}


def test_live_emulators_are_found_with_what_they_serve(tmp_path: Path, s3_emulator: S3Emulator) -> None:
    env = emulator_env(s3_emulator.endpoint_url)
    record_emulators(tmp_path, os.getpid(), env, SYNTHETIC)
    running = running_emulators(tmp_path)
    assert running is not None
    assert (running.pid, running.env, running.source) == (os.getpid(), env, SYNTHETIC)


def test_a_dead_process_a_silent_endpoint_or_a_garbled_file_means_none_running(
    tmp_path: Path, s3_emulator: S3Emulator
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    record_emulators(tmp_path, gone.pid, emulator_env(s3_emulator.endpoint_url), SYNTHETIC)
    assert running_emulators(tmp_path) is None
    record_emulators(tmp_path, os.getpid(), emulator_env(f"http://127.0.0.1:{free_port()}"), SYNTHETIC)
    assert running_emulators(tmp_path) is None  # a reused pid, nothing listening where its S3 was
    (tmp_path / "emulators.json").write_text("{not json")
    assert running_emulators(tmp_path) is None
    assert running_emulators(tmp_path / "nowhere") is None


def test_other_data_than_the_running_api_serves_are_refused(tmp_path: Path, s3_emulator: S3Emulator) -> None:
    record_emulators(tmp_path, os.getpid(), emulator_env(s3_emulator.endpoint_url), SYNTHETIC)
    running = running_emulators(tmp_path)
    assert running is not None
    check_same_source(running, None)  # no option: whatever they serve
    check_same_source(running, source_spec(None, 40, 42))
    with pytest.raises(ConfigError) as refused:
        check_same_source(running, source_spec(tmp_path, None, 42))
    message = str(refused.value)
    assert f"serve 40 synthetic carts (seed 42), not the DummyJSON files in {tmp_path.resolve()}" in message
    assert "`ecom-pipeline emulators down`" in message


def test_a_command_works_on_the_running_emulators_and_gives_the_environment_back(
    tmp_path: Path, s3_emulator: S3Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**emulator_env(s3_emulator.endpoint_url), "SNOWFLAKE_PORT": "12345"}
    record_emulators(tmp_path, os.getpid(), env, SYNTHETIC)
    monkeypatch.setenv("ECOM_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("ECOM_RAW_BUCKET", "raw-running-test")
    monkeypatch.delenv("SNOWFLAKE_PORT", raising=False)
    with local_emulators(load_settings(), None, None) as running:
        assert running is not None and running.pid == os.getpid()
        assert os.environ["SNOWFLAKE_PORT"] == "12345"
        assert load_settings().storage.aws_endpoint_url == s3_emulator.endpoint_url
        buckets = {bucket["Name"] for bucket in s3_emulator.client().list_buckets()["Buckets"]}
        assert "raw-running-test" in buckets  # a bucket `emulators up` did not create, made for this command
    assert "SNOWFLAKE_PORT" not in os.environ
