"""AWS Glue launcher (`aws` profile): upload the script, create or update the Glue 4 job, run and poll it."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.launchers import JOB_SCRIPT, JobRequest, job_arguments, read_summary

LOG = logging.getLogger(__name__)
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED"})
# Glue failures worth a retry: capacity and throttling, not bugs or bad input.
TRANSIENT_ERROR = re.compile(
    r"capacity|throttl|rate exceeded|too many requests|concurrent ?runs ?exceeded|resource ?number ?limit|"
    r"insufficient|try again|slow ?down|service ?unavailable|internal ?service",
    re.IGNORECASE,
)
TRANSIENT_API_CODES = frozenset(
    {"ThrottlingException", "ConcurrentRunsExceededException", "ResourceNumberLimitExceededException",
     "InternalServiceException", "OperationTimeoutException"}
)  # fmt: skip


class GlueLauncher:
    """Runs spark_jobs/orders_job.py as an AWS Glue 4.0 job and returns the summary it wrote."""

    def __init__(
        self,
        settings: Settings,
        glue_client: Any,
        s3_client: Any,
        script: Path = JOB_SCRIPT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.glue = glue_client
        self.s3 = s3_client
        self.script = script
        self._sleep = sleep
        self._clock = clock

    @property
    def script_location(self) -> str:
        """s3:// URI the job definition points at."""
        glue = self.settings.glue
        bucket = glue.script_bucket or self.settings.storage.curated_bucket
        return f"s3://{bucket}/{glue.script_prefix.strip('/')}/{self.script.name}"

    def upload_script(self) -> str:
        """Upload the job script (Glue receives this one file) and return its location."""
        bucket, key = self.script_location.removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=self.script.read_bytes())
        return self.script_location

    def job_definition(self) -> dict[str, Any]:
        """The Glue job's definition: Glue 4.0, Python 3, workers and defaults from settings."""
        glue = self.settings.glue
        if not glue.role_arn:
            raise ConfigError("settings.glue.role_arn (ECOM_GLUE_ROLE_ARN) is required to run the job on AWS Glue")
        return {
            "Role": glue.role_arn,
            "Command": {"Name": "glueetl", "ScriptLocation": self.script_location, "PythonVersion": "3"},
            "GlueVersion": glue.glue_version,
            "WorkerType": glue.worker_type,
            "NumberOfWorkers": glue.number_of_workers,
            "Timeout": glue.timeout_minutes,
            "DefaultArguments": {
                "--job-language": "python",
                "--cost_ratio": str(self.settings.cost_ratio),
                "--default_order_status": self.settings.default_order_status,
            },
        }

    def ensure_job(self) -> str:
        """Create the job, or update it to the current definition; return "created" or "updated"."""
        name = self.settings.glue.job_name
        definition = self.job_definition()
        try:
            self.glue.get_job(JobName=name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityNotFoundException":
                raise _api_error("get_job", error) from error
            self.glue.create_job(Name=name, **definition)
            LOG.info("created Glue job %s", name)
            return "created"
        self.glue.update_job(JobName=name, JobUpdate=definition)
        LOG.info("updated Glue job %s", name)
        return "updated"

    def start(self, request: JobRequest) -> str:
        """Start a run with this request's arguments; return its run id."""
        arguments = job_arguments(self.settings, request, "s3")  # EMRFS on Glue: plain s3://
        try:
            response = self.glue.start_job_run(JobName=self.settings.glue.job_name, Arguments=arguments)
        except ClientError as error:
            raise _api_error("start_job_run", error) from error
        return response["JobRunId"]

    def wait(self, run_id: str) -> dict[str, Any]:
        """Poll until the run reaches a terminal state (logging each change); return the final JobRun."""
        glue = self.settings.glue
        deadline = self._clock() + glue.timeout_minutes * 60
        state = None
        while True:
            job_run = self.glue.get_job_run(JobName=glue.job_name, RunId=run_id)["JobRun"]
            if job_run["JobRunState"] != state:
                state = job_run["JobRunState"]
                LOG.info("Glue run %s of %s: %s", run_id, glue.job_name, state)
            if state in TERMINAL_STATES:
                return job_run
            if self._clock() >= deadline:
                self.glue.batch_stop_job_run(JobName=glue.job_name, JobRunIds=[run_id])
                raise TransformError(
                    f"Glue run {run_id} still {state} after {glue.timeout_minutes} min; stop requested",
                    transient=True,
                )
            self._sleep(glue.poll_seconds)

    def run(self, request: JobRequest) -> dict[str, Any]:
        """Upload, define, start, wait; return the summary, or raise TransformError with Glue's message."""
        self.upload_script()
        self.ensure_job()
        run_id = self.start(request)
        job_run = self.wait(run_id)
        state = job_run["JobRunState"]
        if state != "SUCCEEDED":
            message = job_run.get("ErrorMessage") or "(Glue gave no error message)"
            transient = state == "TIMEOUT" or bool(TRANSIENT_ERROR.search(message))
            raise TransformError(
                f"Glue run {run_id} of {self.settings.glue.job_name} ended {state}: {message}",
                transient=transient,
            )
        return read_summary(self.s3, self.settings.storage.curated_bucket, request.run_id)


def _api_error(operation: str, error: ClientError) -> TransformError:
    """A Glue API error as TransformError; throttling and capacity limits are transient."""
    code = error.response["Error"]["Code"]
    return TransformError(f"Glue {operation} failed: {code}: {error}", transient=code in TRANSIENT_API_CODES)
