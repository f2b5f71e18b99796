"""Launcher choice by profile, and the Glue 4 container command (no Docker engine here: shape only)."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from pydantic import SecretStr

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings
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
    settings = Settings().updated(top={"profile": profile}, glue={"role_arn": "arn:aws:iam::1:role/r"})
    glue = boto3.client("glue", region_name="us-east-1")  # never called: construction only
    assert type(make_launcher(settings, glue_client=glue)) is launcher_type


def test_unknown_profile_lists_the_valid_ones() -> None:
    settings = Settings().model_copy(update={"profile": "mars"})
    with pytest.raises(ConfigError, match="unknown profile 'mars'; valid profiles: local, compose, aws"):
        make_launcher(settings)


def test_compose_command_runs_spark_submit_in_the_glue_container() -> None:
    settings = Settings().updated(
        top={"profile": "compose"},
        storage={
            "aws_access_key_id": SecretStr("AKIDCOMPOSE"),
            "aws_secret_access_key": SecretStr("compose-secret"),
        },
    )
    command = ComposeLauncher(settings, s3_endpoint_in_container="http://s3:5000").command(REQUEST)

    assert command[:4] == ["docker", "compose", "run", "--rm"]
    service_at = command.index("glue")
    assert command[4:service_at] == [
        "-e",
        "AWS_ACCESS_KEY_ID",
        "-e",
        "AWS_SECRET_ACCESS_KEY",
        "-e",
        "AWS_REGION",
    ]
    assert command[service_at + 1] == "/home/glue_user/spark/bin/spark-submit"
    assert "spark.hadoop.fs.s3a.endpoint=http://s3:5000" in command
    assert "spark.hadoop.fs.s3a.connection.ssl.enabled=false" in command
    script_at = command.index("/home/glue_user/workspace/spark_jobs/orders_job.py")
    arguments = dict(zip(command[script_at + 1 :: 2], command[script_at + 2 :: 2], strict=True))
    assert arguments["--JOB_NAME"] == "ecom-orders-transform"  # getResolvedOptions requires it in the Glue image
    assert (arguments["--raw_path"], arguments["--ingest_date"]) == ("s3a://ecom-raw/dummyjson", "2026-06-17")
    assert not any("AKIDCOMPOSE" in item or "compose-secret" in item for item in command)
