"""GlueLauncher against moto's Glue and S3 APIs (mock_aws).

A run starts the job CloudFormation defines and never changes its definition. moto records job runs and walks them
STARTING -> RUNNING -> SUCCEEDED (its state manager lets us make that take several polls) but never runs the
script, has no BatchStopJobRun, and no way to end a run FAILED. `GlueClient` below fills exactly those gaps, in the
test only: batch_stop_job_run is recorded, and `fail_with` makes get_job_run report FAILED with a message.
Everything else is moto.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.moto_api import state_manager
from run_results import job_summary

from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform import GlueLauncher, JobRequest
from ecom_pipeline.transform.job_contract import JobSummary, summary_key
from ecom_pipeline.transform.job_package import package_zip
from ecom_pipeline.transform.process import job_failure

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/ecom-glue"
REQUEST = JobRequest(ingest_date=date(2026, 6, 17), run_id="transform-1", cost_ratio=Decimal("0.6"))


class GlueClient:
    """moto's Glue client plus what moto lacks (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.fail_with: str | None = None
        self.stopped: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str]) -> dict[str, Any]:
        self.stopped.extend(JobRunIds)
        return {"SuccessfulSubmissions": [{"JobName": JobName, "JobRunId": run} for run in JobRunIds]}

    def get_job_run(self, **kwargs: Any) -> dict[str, Any]:
        response = self._client.get_job_run(**kwargs)
        if self.fail_with and response["JobRun"]["JobRunState"] == "SUCCEEDED":
            response["JobRun"].update(JobRunState="FAILED", ErrorMessage=self.fail_with)
        return response


@pytest.fixture
def aws() -> Iterator[tuple[GlueClient, Any]]:
    """(Glue client, S3 client) on moto, with job runs that need two polls per state."""
    with mock_aws():
        state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 2})
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="ecom-curated")
        s3.create_bucket(Bucket="ecom-scripts")
        yield GlueClient(boto3.client("glue", region_name=REGION)), s3
        state_manager.unset_transition("glue::job_run")


@pytest.fixture
def settings() -> Settings:
    """aws-profile settings with instant polling."""
    return Settings().updated(
        top={"profile": "aws"},
        storage={"curated_bucket": "ecom-curated", "aws_endpoint_url": None},
        glue={"poll_seconds": 0.01},
    )


def put_summary(s3: Any, run_id: str) -> JobSummary:
    """What the job would have written (moto does not execute Glue scripts)."""
    summary = job_summary(run_id=run_id, rows_written=800, revenue_written="3834278.63")
    body = json.dumps(summary.model_dump(mode="json", exclude={"reused"})).encode()
    s3.put_object(Bucket="ecom-curated", Key=summary_key(Settings().storage, run_id), Body=body)
    return summary


STACK_DEFAULTS = {  # what infra/ecom-pipeline.yaml sets on the job, besides the language
    "--job-language": "python",
    "--extra-py-files": "s3://ecom-scripts/glue-scripts/spark_jobs.zip",
    "--TempDir": "s3://ecom-scripts/glue-temp/",
    "--enable-continuous-cloudwatch-log": "true",
    "--enable-metrics": "true",
}


def create_stack_job(glue: GlueClient, timeout_minutes: int = 60) -> None:
    """The job as the CloudFormation stack defines it (script in its own bucket, logging and metrics on)."""
    glue.create_job(
        Name="ecom-orders-transform",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": "s3://ecom-scripts/glue-scripts/orders_job.py"},
        GlueVersion="4.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
        Timeout=timeout_minutes,
        MaxRetries=0,
        ExecutionProperty={"MaxConcurrentRuns": 1},
        DefaultArguments=STACK_DEFAULTS,
    )


def test_run_starts_the_stack_job_with_the_run_arguments_and_returns_the_summary(
    aws: tuple[GlueClient, Any], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    glue, s3 = aws
    create_stack_job(glue)
    expected = put_summary(s3, REQUEST.run_id)
    launcher = GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None)

    with caplog.at_level(logging.INFO, logger="ecom_pipeline.transform.glue"):
        assert launcher.run(REQUEST) == expected

    # The job goes where the definition points (the stack's scripts bucket): the entry script to its ScriptLocation,
    # the package zip beside it.
    script = s3.get_object(Bucket="ecom-scripts", Key="glue-scripts/orders_job.py")["Body"].read()
    assert script == launcher.script.read_bytes()
    package = s3.get_object(Bucket="ecom-scripts", Key="glue-scripts/spark_jobs.zip")["Body"].read()
    assert package == package_zip()
    job = glue.get_job(JobName="ecom-orders-transform")["Job"]
    # The stack owns the definition: a run leaves it as it was.
    assert job["DefaultArguments"] == STACK_DEFAULTS and job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    run = glue.get_job_runs(JobName="ecom-orders-transform")["JobRuns"][0]
    assert (
        run["Arguments"].items()
        >= {  # moto merges the job's DefaultArguments in
            "--raw_path": "s3://ecom-raw/dummyjson",
            "--curated_path": "s3://ecom-curated/orders",
            "--quarantine_path": "s3://ecom-curated/quarantine/orders",
            "--ingest_date": "2026-06-17",
            "--run_id": "transform-1",
            "--cost_ratio": "0.6",
            "--default_order_status": "completed",
            "--summary_path": "s3://ecom-curated/job-summaries/run_id=transform-1.json",
            "--extra-py-files": "s3://ecom-scripts/glue-scripts/spark_jobs.zip",  # the zip this run uploaded
        }.items()
    )
    states = [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if "Glue run" in r.getMessage()]
    assert states == ["STARTING", "RUNNING", "SUCCEEDED"]  # each change logged once


def test_run_without_a_job_points_to_the_stack(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    launcher = GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None)
    with pytest.raises(ConfigError, match=r"'ecom-orders-transform' does not exist: deploy the stack .*infra/"):
        launcher.run(REQUEST)
    assert glue.list_jobs()["JobNames"] == []  # a run never creates the job
    assert s3.list_objects_v2(Bucket="ecom-curated").get("KeyCount") == 0  # nor uploads before it knows where


def test_failed_run_raises_with_glue_message(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    create_stack_job(glue)
    # On Glue the job raises its one-line verdict; Glue reports it as the run's ErrorMessage.
    glue.fail_with = "RuntimeError: orders_job: config error: --ingest_date: 'x' is not a YYYY-MM-DD date"
    launcher = GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None)

    with pytest.raises(TransformError) as error:
        launcher.run(REQUEST)
    assert error.value.transient is False
    assert "ended FAILED" in str(error.value)
    assert "rejected its configuration: --ingest_date: 'x' is not a YYYY-MM-DD date" in str(error.value)


def test_an_unexpected_glue_failure_is_retried_once_as_a_crash_is_locally(
    aws: tuple[GlueClient, Any], settings: Settings
) -> None:
    glue, s3 = aws
    create_stack_job(glue)
    glue.fail_with = "An error occurred while calling o97.parquet: Job aborted due to stage failure: executor lost"
    with pytest.raises(TransformError) as error:
        GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None).run(REQUEST)
    assert error.value.transient is True
    local = job_failure("local Spark job", 1, "Job aborted due to stage failure: executor lost")
    assert local.transient is error.value.transient


def test_capacity_failure_is_transient(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    create_stack_job(glue)
    glue.fail_with = "Exceeded maximum concurrent compute capacity for your account"
    with pytest.raises(TransformError) as error:
        GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None).run(REQUEST)
    assert error.value.transient is True


def test_run_still_going_at_the_deadline_is_stopped(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    create_stack_job(glue, timeout_minutes=120)  # the deadline is the job's own timeout
    ticks = iter(range(0, 10**6, 3600))  # every clock reading is one hour later: past 120 min at the second poll
    launcher = GlueLauncher(
        settings, glue_client=glue, s3_client=s3, sleep=lambda _: None, clock=lambda: float(next(ticks))
    )
    with pytest.raises(TransformError) as error:
        launcher.run(REQUEST)
    assert error.value.transient is True and "after 120 min" in str(error.value)
    assert glue.stopped == [glue.get_job_runs(JobName="ecom-orders-transform")["JobRuns"][0]["Id"]]
