"""Launcher choice by profile, and the Glue 4 container command (no Docker engine here: shape only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import REPO_ROOT, Settings, load_settings
from ecom_pipeline.transform import (
    ComposeLauncher,
    GlueLauncher,
    JobRequest,
    LocalSparkLauncher,
    make_launcher,
)

REQUEST = JobRequest(ingest_date=date(2026, 6, 17), run_id="run-c")


@pytest.mark.parametrize(
    ("profile", "launcher_type"),
    [("local", LocalSparkLauncher), ("compose", ComposeLauncher), ("aws", GlueLauncher)],
)
def test_profile_picks_the_launcher(profile: str, launcher_type: type) -> None:
    settings = Settings().updated(top={"profile": profile})
    glue = boto3.client("glue", region_name="us-east-1")  # never called: construction only
    assert type(make_launcher(settings, glue_client=glue)) is launcher_type


def test_an_unknown_profile_fails_as_settings_load_listing_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="profile: Input should be 'local', 'compose' or 'aws'"):
        load_settings(profile="mars")


def test_compose_launcher_queues_a_request_the_glue_container_runner_answers(tmp_path: Path) -> None:
    """The real job runner of the Glue 4 container runs the job the launcher staged on the shared folder (entry
    script and package zip); the job's config error comes back non-transient."""
    jobs = tmp_path / "jobs"
    settings = Settings().updated(
        top={"profile": "compose", "cost_ratio": Decimal("0.6")},
        glue={"jobs_dir": jobs},
        spark={"timeout_seconds": 300},
    )
    bad = JobRequest(ingest_date=date(2026, 6, 17), run_id="run-c", cost_ratio=Decimal("1.5"))
    launcher = ComposeLauncher(settings)

    runner = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "docker" / "glue" / "job_runner.py"), "--max-requests", "1"],
        env={
            **os.environ,
            "JOB_RUNNER_JOBS_DIR": str(jobs),
            "JOB_RUNNER_SPARK_SUBMIT": str(Path(sys.executable).parent / "spark-submit"),
            "JOB_RUNNER_MASTER": "local[1]",
        },
        cwd=tmp_path,  # the runner sees the job only through the shared folder, not the repository
    )
    try:
        with pytest.raises(TransformError, match=r"rejected its configuration: --cost_ratio") as caught:
            launcher.run(bad)
        assert caught.value.transient is False
    finally:
        runner.wait(timeout=60)

    command = json.loads((jobs / "results" / "run-c.json").read_text())["command"]
    [package] = list((jobs / "packages").glob("*/spark_jobs.zip"))
    script_at = command.index("--py-files") + 2
    assert command[script_at - 1 : script_at + 3] == [
        str(package),
        str(package.parent / "orders_job.py"),
        "--JOB_NAME",
        settings.glue.job_name,
    ]
    assert "--cost_ratio" in command[script_at:]
