"""The `compose` profile's launcher: the job runs in the Glue 4 container of docker compose."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobRequest, JobSummary, flatten, job_arguments, read_summary
from ecom_pipeline.transform.job_package import JobFiles, stage_job_files
from ecom_pipeline.transform.process import job_failure

LOG = logging.getLogger(__name__)
# docker/glue/job_runner.py touches this file in the jobs folder every second, while a job runs too; older than
# RUNNER_SILENT_SECONDS (the `glue` service's own health limit), the runner is gone and no result will come.
RUNNER_HEARTBEAT = "runner.heartbeat"
RUNNER_SILENT_SECONDS = 30.0


class ComposeLauncher:
    """Runs the job in the Glue 4 container of docker compose (the `compose` profile).

    The flow's container and the `glue` container share a volume (`settings.glue.jobs_dir`). The launcher stages
    the job there as it ships it to Glue (the entry script and the package zip, under `packages/<digest>/`); the
    job runner in the `glue` container (`docker/glue/job_runner.py`) takes `requests/<id>.json`, runs
    spark-submit of those files with Glue's own Spark and jars, and answers in `results/<id>.json`. No Docker
    socket or CLI is needed in the flow's container.
    """

    def __init__(self, settings: Settings, s3_client: Any = None, sleep: Any = time.sleep) -> None:
        self.settings = settings
        self._s3_client = s3_client
        self._sleep = sleep

    def request_payload(self, request: JobRequest, files: JobFiles) -> dict[str, Any]:
        """The request file's content: the staged job files (relative to the shared folder, which each container
        mounts where it likes) and the job's Glue-style arguments (paths through s3a)."""
        jobs = self.settings.glue.jobs_dir
        arguments = {"--JOB_NAME": self.settings.glue.job_name, **job_arguments(self.settings, request, "s3a")}
        return {
            "script": files.script.relative_to(jobs).as_posix(),
            "py_files": [path.relative_to(jobs).as_posix() for path in files.py_files],
            "args": flatten(arguments),
        }

    def submit(self, request: JobRequest) -> Path:
        """Stage the job, write the request atomically (a .tmp file renamed into place); return the result file."""
        jobs = self.settings.glue.jobs_dir
        files = stage_job_files(jobs / "packages")
        (jobs / "requests").mkdir(parents=True, exist_ok=True)
        pending = jobs / "requests" / f"{request.run_id}.json.tmp"
        pending.write_text(json.dumps(self.request_payload(request, files)))
        pending.replace(pending.with_suffix(""))
        return jobs / "results" / f"{request.run_id}.json"

    def wait(self, result_file: Path) -> dict[str, Any]:
        """Poll for the runner's answer until the Spark timeout; fail at once when the runner stops beating."""
        deadline = time.monotonic() + self.settings.spark.timeout_seconds
        heartbeat = self.settings.glue.jobs_dir / RUNNER_HEARTBEAT
        while not result_file.is_file():
            silent = time.time() - heartbeat.stat().st_mtime if heartbeat.is_file() else 0.0
            if silent > RUNNER_SILENT_SECONDS:
                raise TransformError(
                    f"Glue container job: the `glue` service stopped answering (its job runner's heartbeat is "
                    f"{silent:.0f} s old); see `docker compose logs glue`, then run again"
                )
            if time.monotonic() > deadline:
                raise TransformError(
                    f"Glue container job: no result in {result_file} after {self.settings.spark.timeout_seconds:.0f} s"
                    " (is the `glue` service running? `docker compose logs glue`)",
                    transient=True,
                )
            self._sleep(1.0)
        return json.loads(result_file.read_text())

    def run(self, request: JobRequest) -> JobSummary:
        """Submit, wait, and return the job's summary; a failure is mapped as in every profile (`job_failure`)."""
        LOG.info("Glue container job: run %s, ingest_date %s", request.run_id, request.ingest_date)
        result = self.wait(self.submit(request))
        exit_code = int(result.get("exit_code", 1))
        if exit_code != 0:
            raise job_failure("Glue container job", exit_code, str(result.get("stderr_tail", "")))
        client = self._s3_client or make_s3_client(self.settings.storage)
        return read_summary(client, self.settings.storage, request.run_id)
