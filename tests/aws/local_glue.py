"""What AWS Glue does after StartJobRun, done here: the stand-in that lets an IAM-enforced test run the real job.

moto records Glue job runs but never executes them. `LocalGlue` wraps the worker's Glue client: every call still
goes to the emulator, authorised as the worker, and the pipeline's GlueLauncher cannot tell the difference. After
a StartJobRun it does, in a thread, what the Glue service does with a run:

1. read the job's definition (GetJob, as `glue.amazonaws.com`) and merge the run's Arguments over its
   DefaultArguments;
2. assume the job's Role as `glue.amazonaws.com` (the role's trust policy must allow it);
3. with the role's keys: ask each bucket the run names for its region (GetBucketLocation, which AWS's own policy
   for Glue's role grants: https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html; Glue does not
   document whether EMRFS asks, so the stand-in holds the grant to the stricter case), fetch the script from the
   definition's ScriptLocation and each `--extra-py-files` path
   (comma-separated S3 paths that Glue puts on the Python path before the script starts:
   https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html), and create the output
   folders the way EMRFS, Glue's S3 file system, does: ask for each folder's bare key, then write
   `<folder>_$folder$` (https://repost.aws/knowledge-center/emr-s3-empty-files);
4. run the script with the local Spark launcher (s3a) under the role's keys, the fetched files as `--py-files`
   (spark-submit's way onto the Python path), its `s3://` arguments as `s3a://`.

get_job_run answers moto's record of the run with this run's state (RUNNING, then SUCCEEDED or FAILED with the
error's last lines as ErrorMessage, like Glue).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from aws_stack import client
from botocore.exceptions import ClientError
from pydantic import SecretStr

from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_package import JobFiles
from ecom_pipeline.transform.local import LocalSparkLauncher

LOG = logging.getLogger("tests.local_glue")
# Arguments naming where the job writes: EMRFS creates these folders (and their parents) before writing.
OUTPUT_ARGUMENTS = ("--curated_path", "--quarantine_path")
FILE_ARGUMENTS = ("--summary_path",)


class LocalGlue:
    """The worker's Glue client, plus the job runs Glue would execute (see the module docstring)."""

    def __init__(self, worker_client: Any, endpoint_url: str, service_keys: dict[str, str], settings: Settings) -> None:
        self._client = worker_client
        self._endpoint_url = endpoint_url
        self._service_keys = service_keys
        self._settings = settings
        self.runs: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def start_job_run(self, **request: Any) -> dict[str, Any]:
        answer = self._client.start_job_run(**request)  # authorised as the worker
        run_id = answer["JobRunId"]
        self.runs[run_id] = {"JobRunState": "RUNNING"}
        thread = threading.Thread(
            target=self._execute, args=(request["JobName"], run_id, request.get("Arguments", {})), daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return answer

    def get_job_run(self, **request: Any) -> dict[str, Any]:
        answer = self._client.get_job_run(**request)  # authorised as the worker
        answer["JobRun"].pop("ErrorMessage", None)
        answer["JobRun"].update(self.runs.get(request["RunId"], {}))
        return answer

    def join(self, timeout: float = 300) -> None:
        """Wait for every run this client started."""
        for thread in self._threads:
            thread.join(timeout)

    def _execute(self, job_name: str, run_id: str, arguments: dict[str, str]) -> None:
        try:
            self.runs[run_id]["identity"] = self._run(job_name, arguments)
            self.runs[run_id]["JobRunState"] = "SUCCEEDED"
        except Exception as error:  # a Glue run ends FAILED with the error's message, whatever it was
            LOG.warning("local Glue run %s failed: %s", run_id, error)
            self.runs[run_id].update(JobRunState="FAILED", ErrorMessage=str(error)[-2000:])

    def _run(self, job_name: str, arguments: dict[str, str]) -> str:
        """Steps 1-4 of the module docstring; returns the ARN the job ran as."""
        job = client("glue", self._endpoint_url, self._service_keys).get_job(JobName=job_name)["Job"]
        merged = {**job.get("DefaultArguments", {}), **arguments}
        sts = client("sts", self._endpoint_url, self._service_keys)
        credentials = sts.assume_role(RoleArn=job["Role"], RoleSessionName="GlueJobRunnerSession")["Credentials"]
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        identity = client("sts", self._endpoint_url, keys).get_caller_identity()["Arn"]
        s3 = client("s3", self._endpoint_url, keys)
        named = [part for value in (job["Command"]["ScriptLocation"], *merged.values()) for part in value.split(",")]
        buckets = {_split(uri)[0] for uri in named if uri.startswith("s3://")}
        for bucket in sorted(buckets):
            s3.get_bucket_location(Bucket=bucket)
        with tempfile.TemporaryDirectory(prefix="local-glue-") as folder:
            script = _download(s3, job["Command"]["ScriptLocation"], Path(folder))
            extra = [uri for uri in merged.get("--extra-py-files", "").split(",") if uri]
            py_files = tuple(_download(s3, uri, Path(folder) / str(index)) for index, uri in enumerate(extra))
            for name in (*OUTPUT_ARGUMENTS, *FILE_ARGUMENTS):
                if name in merged:
                    path = merged[name] if name in OUTPUT_ARGUMENTS else merged[name].rsplit("/", 1)[0]
                    _make_folders(s3, path)
            settings = self._settings.updated(
                storage={
                    "aws_endpoint_url": self._endpoint_url,
                    "aws_access_key_id": SecretStr(keys["aws_access_key_id"]),
                    "aws_secret_access_key": SecretStr(keys["aws_secret_access_key"]),
                    "aws_session_token": SecretStr(keys["aws_session_token"]),
                }
            )
            launcher = LocalSparkLauncher(settings, job_files=JobFiles(script, py_files))
            local_arguments = {name: value.replace("s3://", "s3a://", 1) for name, value in merged.items()}
            launcher.run_command(launcher.submit_command({"--JOB_NAME": job_name, **local_arguments}), "Glue job run")
        return identity


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _download(s3: Any, uri: str, folder: Path) -> Path:
    """The object at `uri`, saved in `folder` under its own file name (as Glue keeps it)."""
    bucket, key = _split(uri)
    target = folder / PurePosixPath(key).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return target


def _make_folders(s3: Any, uri: str) -> None:
    """EMRFS's mkdirs: for the folder and each parent, check the bare key, then write its `_$folder$` marker."""
    bucket, key = _split(uri)
    parts = key.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        try:
            s3.head_object(Bucket=bucket, Key=folder)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
        s3.put_object(Bucket=bucket, Key=f"{folder}_$folder$", Body=b"")
