"""AWS Glue launcher (`aws` profile): start the Glue 4 job the stack defines, watch it, return its summary.

The job's definition belongs to CloudFormation (infra/ecom-pipeline.yaml). A run reads it (GetJob), uploads the job
it was cloned with, the entry script to the definition's ScriptLocation and the package zip beside it, and starts a
run whose Arguments carry the run's paths, business parameters and the zip as `--extra-py-files` (Glue puts it on
the Python path: https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html). It never
updates the definition, so the stack's temp-dir, logging and metrics arguments stay as deployed. `deploy()`
(`ecom-pipeline glue deploy`) serves accounts without the stack: it creates the job, or sets our fields on the
existing definition and keeps the rest (Glue's UpdateJob replaces the whole definition,
https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateJob.html, so the rest is copied from GetJob).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobRequest, job_arguments, read_summary
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

    @property
    def script_location(self) -> str:
        """Where `deploy()` points a job it defines: the settings' script bucket and prefix."""
        glue = self.settings.glue
        bucket = glue.script_bucket or self.settings.storage.curated_bucket
        return f"s3://{bucket}/{glue.script_prefix.strip('/')}/{self.script.name}"

    def upload_script(self, location: str | None = None) -> str:
        """Upload the entry script to `location` (default: ours) and the package zip beside it; return `location`."""
        location = location or self.script_location
        for target, body in (
            (location, self.script.read_bytes()),
            (package_location(location), package_zip(self.package)),
        ):
            bucket, key = target.removeprefix("s3://").split("/", 1)
            try:
                self.s3.put_object(Bucket=bucket, Key=key, Body=body)
            except ClientError as error:
                raise TransformError(
                    f"uploading the job to {target} failed: {error}", transient=_is_throttled(error)
                ) from error
        return location

    def deployed_job(self) -> dict[str, Any]:
        """The job's definition as Glue has it; ConfigError saying how to create it when there is none."""
        name = self.settings.glue.job_name
        try:
            return dict(self.glue.get_job(JobName=name)["Job"])
        except ClientError as error:
            if error.response["Error"]["Code"] == "EntityNotFoundException":
                raise ConfigError(
                    f"Glue job {name!r} does not exist: run `ecom-pipeline glue deploy` or deploy the stack "
                    "(infra/ecom-pipeline.yaml, docs/aws.md)"
                ) from error
            raise _api_error("get_job", error) from error

    def job_definition(self) -> dict[str, Any]:
        """Our fields of the job's definition: Glue 4.0, Python 3, script, workers, timeout, role when set."""
        glue = self.settings.glue
        definition: dict[str, Any] = {
            "Command": {"Name": "glueetl", "ScriptLocation": self.script_location, "PythonVersion": "3"},
            "GlueVersion": glue.glue_version,
            "WorkerType": glue.worker_type,
            "NumberOfWorkers": glue.number_of_workers,
            "Timeout": glue.timeout_minutes,
            # Business parameters are not defaults: every run passes them (job_arguments). The package zip is one,
            # so that a run started by hand (console, CLI) finds the job's code too.
            "DefaultArguments": {
                "--job-language": "python",
                "--extra-py-files": package_location(self.script_location),
            },
        }
        if glue.role_arn:
            definition["Role"] = glue.role_arn
        return definition

    def deploy(self) -> str:
        """Create the job, or set our fields on its definition and keep the rest; return "created" or "updated"."""
        name = self.settings.glue.job_name
        ours = self.job_definition()
        try:
            current = self.deployed_job()
        except ConfigError:
            if "Role" not in ours:
                raise ConfigError(
                    f"Glue job {name!r} does not exist yet: set ECOM_GLUE_ROLE_ARN (the role it runs as) to create it"
                ) from None
            self.glue.create_job(Name=name, **ours)
            LOG.info("created Glue job %s", name)
            return "created"
        fields = self.glue.meta.service_model.shape_for("JobUpdate").members
        self.glue.update_job(JobName=name, JobUpdate=merged_job_update(current, ours, fields))
        LOG.info("updated Glue job %s (its other fields and default arguments kept)", name)
        return "updated"

    def start(self, request: JobRequest, script_location: str) -> str:
        """Start a run with this request's arguments and the package zip beside `script_location`; return its id."""
        arguments = {
            **job_arguments(self.settings, request, "s3"),  # EMRFS on Glue: plain s3://
            "--extra-py-files": package_location(script_location),  # a run's argument wins over the default
        }
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
                    f"Glue run {run_id} still {state} after {glue.timeout_minutes} min; stop requested",
                    transient=True,
                )
            self._sleep(glue.poll_seconds)

    def run(self, request: JobRequest) -> dict[str, Any]:
        """Upload the job beside the job's ScriptLocation, start, wait; return the summary, or raise Glue's message."""
        script_location = self.deployed_job()["Command"]["ScriptLocation"]
        self.upload_script(script_location)
        run_id = self.start(request, script_location)
        job_run = self.wait(run_id)
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


def merged_job_update(current: dict[str, Any], ours: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """An UpdateJob `JobUpdate`: the current definition's updatable `fields`, ours set on top, default args merged."""
    update = {field: current[field] for field in fields if current.get(field) is not None}
    update.update({field: value for field, value in ours.items() if field != "DefaultArguments"})
    update["DefaultArguments"] = {**current.get("DefaultArguments", {}), **ours.get("DefaultArguments", {})}
    if "WorkerType" in update or "NumberOfWorkers" in update:
        update.pop("MaxCapacity", None)  # GetJob derives it from the workers; UpdateJob refuses both together
    update.pop("AllocatedCapacity", None)  # deprecated alias of MaxCapacity
    return update


def _is_throttled(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in TRANSIENT_API_CODES | {"SlowDown", "Throttling", "RequestLimitExceeded"}


def _api_error(operation: str, error: ClientError) -> TransformError:
    """A Glue API error as TransformError; throttling and capacity limits are transient."""
    code = error.response["Error"]["Code"]
    return TransformError(f"Glue {operation} failed: {code}: {error}", transient=code in TRANSIENT_API_CODES)
