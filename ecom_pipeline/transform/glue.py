"""AWS Glue launcher (`aws` profile): start the Glue 4 job the stack defines, watch it, return its summary.

The job's one definition is the CloudFormation stack's `OrdersGlueJob` (infra/ecom-pipeline.yaml): role, Glue
version, workers, timeout, default arguments. A run reads it (GetJob), uploads the job it was cloned with, the entry
script to the definition's ScriptLocation and the package zip beside it, and starts a run whose Arguments carry the
run's paths, business parameters and the zip as `--extra-py-files` (Glue puts it on the Python path:
https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html). It never changes the
definition.
"""

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
from ecom_pipeline.transform.job_contract import JobRequest, JobSummary, job_arguments, read_summary
from ecom_pipeline.transform.job_package import JOB_PACKAGE, JOB_SCRIPT, PACKAGE_ZIP_NAME, package_zip
from ecom_pipeline.transform.process import job_failure

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
    """Runs the orders job (entry script plus package zip) as an AWS Glue 4.0 job and returns its summary."""

    def __init__(
        self,
        settings: Settings,
        glue_client: Any,
        s3_client: Any,
        script: Path = JOB_SCRIPT,
        package: Path = JOB_PACKAGE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.glue = glue_client
        self.s3 = s3_client
        self.script = script
        self.package = package
        self._sleep = sleep
        self._clock = clock

    def upload_script(self, script_location: str) -> None:
        """Upload the entry script to the job's `script_location` and the package zip beside it."""
        for target, body in (
            (script_location, self.script.read_bytes()),
            (package_location(script_location), package_zip(self.package)),
        ):
            bucket, key = target.removeprefix("s3://").split("/", 1)
            try:
                self.s3.put_object(Bucket=bucket, Key=key, Body=body)
            except ClientError as error:
                raise TransformError(
                    f"uploading the job to {target} failed: {error}", transient=_is_throttled(error)
                ) from error

    def deployed_job(self) -> dict[str, Any]:
        """The job's definition as Glue has it; ConfigError saying where it comes from when there is none."""
        name = self.settings.glue.job_name
        try:
            return dict(self.glue.get_job(JobName=name)["Job"])
        except ClientError as error:
            if error.response["Error"]["Code"] == "EntityNotFoundException":
                raise ConfigError(
                    f"Glue job {name!r} does not exist: deploy the stack that defines it (infra/ecom-pipeline.yaml, "
                    "docs/aws.md) or set ECOM_GLUE_JOB_NAME to its name"
                ) from error
            raise _api_error("get_job", error) from error

    def start(self, request: JobRequest, script_location: str) -> str:
        """Start a run with this request's arguments and the package zip beside `script_location`; return its id."""
        # A run's Arguments replace the job's default arguments of the same name ("Arguments",
        # https://docs.aws.amazon.com/glue/latest/webapi/API_StartJobRun.html); the others stay as the stack set them.
        arguments = {
            **job_arguments(self.settings, request, "s3"),  # EMRFS on Glue: plain s3://
            "--extra-py-files": package_location(script_location),
        }
        try:
            response = self.glue.start_job_run(JobName=self.settings.glue.job_name, Arguments=arguments)
        except ClientError as error:
            raise _api_error("start_job_run", error) from error
        return response["JobRunId"]

    def wait(self, run_id: str, timeout_minutes: int) -> dict[str, Any]:
        """Poll until the run reaches a terminal state (logging each change); return the final JobRun.

        Glue ends a run at the job's timeout itself; past it, this stops the run rather than poll on.
        """
        glue = self.settings.glue
        deadline = self._clock() + timeout_minutes * 60
        state = None
        while True:
            try:
                job_run = self.glue.get_job_run(JobName=glue.job_name, RunId=run_id)["JobRun"]
            except ClientError as error:
                raise _api_error("get_job_run", error) from error
            if job_run["JobRunState"] != state:
                state = job_run["JobRunState"]
                LOG.info("Glue run %s of %s: %s", run_id, glue.job_name, state)
            if state in TERMINAL_STATES:
                return job_run
            if self._clock() >= deadline:
                self.glue.batch_stop_job_run(JobName=glue.job_name, JobRunIds=[run_id])
                raise TransformError(
                    f"Glue run {run_id} still {state} after {timeout_minutes} min; stop requested",
                    transient=True,
                )
            self._sleep(glue.poll_seconds)

    def run(self, request: JobRequest) -> JobSummary:
        """Upload the job beside the job's ScriptLocation, start, wait; return the summary, or raise Glue's message."""
        job = self.deployed_job()
        script_location = job["Command"]["ScriptLocation"]
        self.upload_script(script_location)
        run_id = self.start(request, script_location)
        # A job without a Timeout gets Glue's default, 2,880 minutes (Timeout under "Job structure",
        # https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-job.html).
        job_run = self.wait(run_id, job.get("Timeout") or 2880)
        state = job_run["JobRunState"]
        if state != "SUCCEEDED":
            message = job_run.get("ErrorMessage") or "(Glue gave no error message)"
            what = f"Glue run {run_id} of {self.settings.glue.job_name} (ended {state})"
            if state == "TIMEOUT" or TRANSIENT_ERROR.search(message):  # capacity, throttling: Glue's own
                raise TransformError(f"{what}: {message}", transient=True)
            # The job's own verdicts (configuration, data integrity) and anything else: as in every profile.
            raise job_failure(what, None, message)
        return read_summary(self.s3, self.settings.storage, request.run_id)


def package_location(script_location: str) -> str:
    """Where the package zip goes: beside the entry script (the Glue role reads the script's prefix)."""
    return f"{script_location.rsplit('/', 1)[0]}/{PACKAGE_ZIP_NAME}"


def _is_throttled(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in TRANSIENT_API_CODES | {"SlowDown", "Throttling", "RequestLimitExceeded"}


def _api_error(operation: str, error: ClientError) -> TransformError:
    """A Glue API error as TransformError; throttling and capacity limits are transient."""
    code = error.response["Error"]["Code"]
    return TransformError(f"Glue {operation} failed: {code}: {error}", transient=code in TRANSIENT_API_CODES)
