"""GlueLauncher against moto's Glue and S3 APIs (mock_aws).

moto records job runs and walks them STARTING -> RUNNING -> SUCCEEDED (its state manager lets us make that
take several polls) but never runs the script, has no UpdateJob nor BatchStopJobRun, and no way to end a
run FAILED. `GlueClient` below fills exactly those gaps, in the test only: update_job is emulated with
delete + create, batch_stop_job_run is recorded, and `fail_with` makes get_job_run report FAILED with a
message. Everything else is moto.
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

from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform import GlueLauncher, JobRequest
from ecom_pipeline.transform.launchers import summary_key

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/ecom-glue"
REQUEST = JobRequest(ingest_date=date(2026, 6, 17), run_id="glue-run-1", cost_ratio=Decimal("0.6"))


class GlueClient:
    """moto's Glue client plus the two calls moto lacks (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.updates: list[dict[str, Any]] = []
        self.fail_with: str | None = None
        self.stopped: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_job(self, JobName: str, JobUpdate: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(JobUpdate)
        self._client.delete_job(JobName=JobName)
        self._client.create_job(Name=JobName, **JobUpdate)
        return {"JobName": JobName}

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
        yield GlueClient(boto3.client("glue", region_name=REGION)), s3
        state_manager.unset_transition("glue::job_run")


@pytest.fixture
def settings() -> Settings:
    """aws-profile settings with a role and instant polling."""
    return Settings().updated(
        top={"profile": "aws"},
        storage={"curated_bucket": "ecom-curated", "aws_endpoint_url": None},
        glue={"role_arn": ROLE, "poll_seconds": 0.01, "number_of_workers": 2},
    )


def put_summary(s3: Any, run_id: str) -> dict[str, Any]:
    """What the job would have written (moto does not execute Glue scripts)."""
    summary = {"run_id": run_id, "rows_written": 800, "revenue_written": "3834278.63"}
    s3.put_object(Bucket="ecom-curated", Key=summary_key(run_id), Body=json.dumps(summary).encode())
    return summary


def test_first_run_creates_the_job_and_returns_the_summary(
    aws: tuple[GlueClient, Any], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    glue, s3 = aws
    expected = put_summary(s3, REQUEST.run_id)
    launcher = GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None)

    with caplog.at_level(logging.INFO, logger="ecom_pipeline.transform.glue"):
        assert launcher.run(REQUEST) == expected

    script = s3.get_object(Bucket="ecom-curated", Key="glue-scripts/orders_job.py")["Body"].read()
    assert script == launcher.script.read_bytes()
    job = glue.get_job(JobName="ecom-orders-transform")["Job"]
    assert job["Command"]["ScriptLocation"] == "s3://ecom-curated/glue-scripts/orders_job.py"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Role"]) == (
        "4.0",
        "G.1X",
        2,
        ROLE,
    )
    assert job["DefaultArguments"]["--job-language"] == "python"
    assert glue.updates == []
    run = glue.get_job_runs(JobName="ecom-orders-transform")["JobRuns"][0]
    assert (
        run["Arguments"].items()
        >= {  # moto merges the job's DefaultArguments in
            "--raw_path": "s3://ecom-raw/dummyjson",
            "--curated_path": "s3://ecom-curated/orders",
            "--quarantine_path": "s3://ecom-curated/quarantine/orders",
            "--ingest_date": "2026-06-17",
            "--run_id": "glue-run-1",
            "--cost_ratio": "0.6",
            "--default_order_status": "completed",
            "--summary_path": "s3://ecom-curated/job-summaries/run_id=glue-run-1.json",
        }.items()
    )
    states = [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if "Glue run" in r.getMessage()]
    assert states == ["STARTING", "RUNNING", "SUCCEEDED"]  # each change logged once


def test_second_run_updates_the_job_definition(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    put_summary(s3, REQUEST.run_id)
    GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None).run(REQUEST)

    bigger = settings.updated(glue={"number_of_workers": 5})
    GlueLauncher(bigger, glue_client=glue, s3_client=s3, sleep=lambda _: None).run(REQUEST)

    assert [update["NumberOfWorkers"] for update in glue.updates] == [5]
    assert glue.get_job(JobName="ecom-orders-transform")["Job"]["NumberOfWorkers"] == 5
    assert len(glue.get_job_runs(JobName="ecom-orders-transform")["JobRuns"]) == 1  # moto drops history on re-create


def test_failed_run_raises_with_glue_message(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    glue.fail_with = "ValueError: --ingest_date: 'x' is not a YYYY-MM-DD date"
    launcher = GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None)

    with pytest.raises(TransformError) as error:
        launcher.run(REQUEST)
    assert error.value.transient is False
    assert "ended FAILED" in str(error.value) and "--ingest_date" in str(error.value)


def test_capacity_failure_is_transient(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    glue.fail_with = "Exceeded maximum concurrent compute capacity for your account"
    with pytest.raises(TransformError) as error:
        GlueLauncher(settings, glue_client=glue, s3_client=s3, sleep=lambda _: None).run(REQUEST)
    assert error.value.transient is True


def test_run_still_going_at_the_deadline_is_stopped(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    ticks = iter(range(0, 10**6, 3600))  # every clock reading is one hour later: past the 60 min limit
    launcher = GlueLauncher(
        settings, glue_client=glue, s3_client=s3, sleep=lambda _: None, clock=lambda: float(next(ticks))
    )
    with pytest.raises(TransformError) as error:
        launcher.run(REQUEST)
    assert error.value.transient is True and "after 60 min" in str(error.value)
    assert glue.stopped == [glue.get_job_runs(JobName="ecom-orders-transform")["JobRuns"][0]["Id"]]


def test_missing_role_is_a_config_error(aws: tuple[GlueClient, Any], settings: Settings) -> None:
    glue, s3 = aws
    launcher = GlueLauncher(settings.updated(glue={"role_arn": None}), glue_client=glue, s3_client=s3)
    with pytest.raises(ConfigError, match="ECOM_GLUE_ROLE_ARN"):
        launcher.run(REQUEST)
