"""How the transform job is launched: local spark-submit, the Glue 4 container (compose), or AWS Glue.

Every launcher takes a JobRequest, runs spark_jobs/orders_job.py somewhere, and returns the job summary
it wrote to S3 (docs/architecture.md, "Curated zone"). Which one runs is a profile setting, nothing else.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ecom_pipeline.aws import frozen_credentials, make_glue_client, make_s3_client
from ecom_pipeline.exceptions import ConfigError, TransformError
from ecom_pipeline.settings import REPO_ROOT, Profile, Settings
from ecom_pipeline.transform.process import job_failure, run_job_process

LOG = logging.getLogger(__name__)
JOB_SCRIPT = REPO_ROOT / "spark_jobs" / "orders_job.py"
S3A_JARS = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
ENV_CREDENTIALS_PROVIDER = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"


@dataclass(frozen=True)
class JobRequest:
    """One transform run: which raw ingest date, under which run id, with which business parameters."""

    ingest_date: date
    run_id: str
    cost_ratio: Decimal = Decimal("0.6")
    default_order_status: str = "completed"

    @classmethod
    def from_settings(cls, settings: Settings, run_id: str, ingest_date: date | None = None) -> JobRequest:
        """A request for `settings.run_date` (or `ingest_date`) with the configured business parameters."""
        return cls(
            ingest_date=ingest_date or settings.run_date,
            run_id=run_id,
            cost_ratio=settings.cost_ratio,
            default_order_status=settings.default_order_status,
        )


class TransformLauncher(Protocol):
    """Runs the orders job for one request and returns its summary."""

    def run(self, request: JobRequest) -> dict[str, Any]:
        """Run the job to completion; raise TransformError on failure."""
        ...


def summary_key(run_id: str) -> str:
    """Key of a run's summary inside the curated bucket."""
    return f"job-summaries/run_id={run_id}.json"


def job_arguments(settings: Settings, request: JobRequest, scheme: str) -> dict[str, str]:
    """The job's `--name value` arguments for this request (paths with `scheme`: s3a locally, s3 on Glue)."""
    storage = settings.storage
    return {
        "--raw_path": storage.raw_uri(scheme),
        "--curated_path": storage.curated_uri(scheme),
        "--quarantine_path": storage.quarantine_uri(scheme),
        "--ingest_date": request.ingest_date.isoformat(),
        "--run_id": request.run_id,
        "--cost_ratio": str(request.cost_ratio),
        "--default_order_status": request.default_order_status,
        "--summary_path": f"{scheme}://{storage.curated_bucket}/{summary_key(request.run_id)}",
    }


def flatten(arguments: dict[str, str]) -> list[str]:
    """`{"--a": "1"}` -> `["--a", "1"]`."""
    return [item for pair in arguments.items() for item in pair]


def s3_client_for(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint and credentials."""
    return make_s3_client(settings.storage)


def read_summary(s3_client: Any, bucket: str, run_id: str) -> dict[str, Any]:
    """The summary JSON the job wrote for `run_id`."""
    key = summary_key(run_id)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise TransformError(
            f"the job finished but its summary s3://{bucket}/{key} cannot be read: {error}", transient=False
        ) from error
    return json.loads(body)


def s3a_confs(settings: Settings, credentials_in_env: bool) -> dict[str, str]:
    """Hadoop s3a settings for the configured endpoint; keys travel in the environment, never here."""
    endpoint = settings.storage.aws_endpoint_url
    confs: dict[str, str] = {}
    if endpoint:
        confs["spark.hadoop.fs.s3a.endpoint"] = endpoint
        confs["spark.hadoop.fs.s3a.path.style.access"] = "true"  # emulators serve one host, not bucket DNS
        confs["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https")).lower()
    if credentials_in_env:
        confs["spark.hadoop.fs.s3a.aws.credentials.provider"] = ENV_CREDENTIALS_PROVIDER
    return confs


def credentials_env(settings: Settings) -> dict[str, str]:
    """AWS_* variables for the job process: the run's identity (settings or credentials block), else this process's."""
    storage = settings.storage
    env = {"AWS_REGION": storage.aws_region, "AWS_DEFAULT_REGION": storage.aws_region}
    frozen = frozen_credentials(storage)
    if frozen is not None:
        key_id, secret, token = frozen.access_key, frozen.secret_key, frozen.token
    else:
        key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        token = os.environ.get("AWS_SESSION_TOKEN")
    if key_id and secret:
        env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
        # Temporary keys (an assumed role) are useless without their token; s3a's env provider reads it too.
        if token:
            env["AWS_SESSION_TOKEN"] = token
    return env


def find_spark_submit(python: Path | None = None) -> Path:
    """spark-submit next to `python` (default: this one; a venv's bin), else inside this Python's pyspark package."""
    beside_python = (python or Path(sys.executable)).parent / "spark-submit"
    if beside_python.is_file():
        return beside_python
    if python is not None:  # another environment's Spark: never fall back to ours
        raise TransformError(f"spark-submit not found beside {python}: install pyspark there", transient=False)
    spec = importlib.util.find_spec("pyspark")
    if spec and spec.submodule_search_locations:
        packaged = Path(next(iter(spec.submodule_search_locations))) / "bin" / "spark-submit"
        if packaged.is_file():
            return packaged
    raise TransformError("spark-submit not found: install pyspark into this environment", transient=False)


def find_s3a_jars() -> list[Path]:
    """hadoop-aws and the AWS SDK bundle shipped by sagemaker-pyspark (found without importing it)."""
    spec = importlib.util.find_spec("sagemaker_pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise TransformError(
            "s3a jars not found: install sagemaker-pyspark==1.4.5 (ships hadoop-aws and the AWS SDK bundle)",
            transient=False,
        )
    jars = [Path(next(iter(spec.submodule_search_locations))) / "jars" / name for name in S3A_JARS]
    missing = [str(jar) for jar in jars if not jar.is_file()]
    if missing:
        raise TransformError(f"s3a jars missing: {', '.join(missing)}", transient=False)
    return jars


def require_java() -> None:
    """Fail early, in one line, when no Java runtime is there for Spark."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").is_file()):
        return
    raise TransformError(
        "java not found (not on PATH, JAVA_HOME unset): install a JDK 17 to run the Spark job locally",
        transient=False,
    )


class ClassDataArchive:
    """A JVM class-data-sharing archive of Spark's classes: written by the first run, mapped by later ones.

    Loading and verifying Spark's few thousand classes is a large part of a short job's start-up. The JVM
    (17+) dumps the classes a run loaded when it exits (-XX:ArchiveClassesAtExit) and later runs map that file
    (-XX:SharedArchiveFile). The archive is keyed by the Java, Spark and jar versions, so an upgrade starts a
    new one; a run writes to a temporary name that is renamed only after it succeeded, so concurrent or
    killed runs never leave a half-written archive behind. A stale archive only costs the speed-up: the JVM
    then ignores it (-Xshare:auto).
    """

    def __init__(self, folder: Path, jars: list[Path], spark_submit: Path | None = None) -> None:
        java = shutil.which("java") or os.environ.get("JAVA_HOME", "java")
        spark = [_pyspark_version(), str(spark_submit or "")]  # another environment's Spark has other classes
        identity = [str(Path(java).resolve()), *spark, *sorted(str(jar) for jar in jars)]
        key = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
        self.path = folder / f"spark-{key}.jsa"
        self.pending = folder / f"spark-{key}.{secrets.token_hex(4)}.tmp"

    def java_options(self) -> list[str]:
        """Map the archive when it exists, else ask this run to write one."""
        if self.path.is_file():
            return [f"-XX:SharedArchiveFile={self.path}", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
        self.pending.parent.mkdir(parents=True, exist_ok=True)
        return [f"-XX:ArchiveClassesAtExit={self.pending}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]

    def commit(self, succeeded: bool) -> None:
        """Keep the archive a successful run wrote; drop a failed run's."""
        if not self.pending.is_file():
            return
        if succeeded and not self.path.is_file():
            self.pending.replace(self.path)
        else:
            self.pending.unlink(missing_ok=True)


def _pyspark_version() -> str:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return "unknown"
    version_file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    return version_file.read_text() if version_file.is_file() else "unknown"


class LocalSparkLauncher:
    """Runs the job with this environment's spark-submit against S3 through s3a (the `local` profile)."""

    def __init__(self, settings: Settings, s3_client: Any = None, script: Path = JOB_SCRIPT) -> None:
        self.settings = settings
        self.script = script
        self._s3_client = s3_client
        self.archive: ClassDataArchive | None = None

    def environment(self) -> dict[str, str]:
        """The job process's environment: ours, plus loopback binding, the job's Python and AWS keys."""
        python = str(self.settings.spark.python or sys.executable)
        return {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            **credentials_env(self.settings),
        }

    def command(self, request: JobRequest) -> list[str]:
        """The spark-submit command line (no secrets in it: `ps` and logs show it)."""
        arguments = {
            "--JOB_NAME": self.settings.glue.job_name,
            **job_arguments(self.settings, request, "s3a"),
            "--shuffle_partitions": str(self.settings.spark.shuffle_partitions),
        }
        return self.submit_command(arguments)

    def submit_command(self, arguments: dict[str, str]) -> list[str]:
        """spark-submit of the script with these `--name value` arguments, the way Glue passes them."""
        spark = self.settings.spark
        jars = find_s3a_jars()
        spark_submit = find_spark_submit(spark.python)
        java_options = spark.java_options.split()
        if spark.class_data_sharing:
            self.archive = ClassDataArchive(spark.class_data_dir.resolve(), jars, spark_submit)
            java_options += self.archive.java_options()
        confs = {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.extraJavaOptions": " ".join(java_options),
            **s3a_confs(self.settings, credentials_in_env="AWS_ACCESS_KEY_ID" in credentials_env(self.settings)),
        }
        return [
            str(spark_submit),
            "--master",
            spark.master,
            "--driver-memory",
            spark.driver_memory,
            "--jars",
            ",".join(str(jar) for jar in jars),
            *[item for key, value in confs.items() for item in ("--conf", f"{key}={value}")],
            str(self.script),
            *flatten(arguments),
        ]

    def run(self, request: JobRequest) -> dict[str, Any]:
        """Run the job to completion and return its summary."""
        require_java()
        command = self.command(request)
        LOG.info("spark-submit orders job: run %s, ingest_date %s", request.run_id, request.ingest_date)
        self.run_command(command)
        client = self._s3_client or s3_client_for(self.settings)
        return read_summary(client, self.settings.storage.curated_bucket, request.run_id)

    def run_command(self, command: list[str], what: str = "local Spark job") -> None:
        """Run a `command()`/`submit_command()` line to completion; keep the class-data archive only on success."""
        succeeded = False
        try:
            run_job_process(command, self.environment(), self.settings.spark.timeout_seconds, LOG, what)
            succeeded = True
        finally:
            if self.archive is not None:
                self.archive.commit(succeeded)


class ComposeLauncher:
    """Runs the job in the Glue 4 container of docker compose (the `compose` profile).

    The flow's container and the `glue` container share a volume (`settings.glue.jobs_dir`); the job runner
    there (`docker/glue/job_runner.py`) takes `requests/<id>.json`, runs spark-submit with Glue's own Spark
    and jars, and answers in `results/<id>.json`. No Docker socket or CLI is needed in the flow's container.
    """

    def __init__(self, settings: Settings, s3_client: Any = None, sleep: Any = time.sleep) -> None:
        self.settings = settings
        self._s3_client = s3_client
        self._sleep = sleep

    def request_payload(self, request: JobRequest) -> dict[str, Any]:
        """The request file's content: the job's Glue-style arguments (paths through s3a)."""
        arguments = {"--JOB_NAME": self.settings.glue.job_name, **job_arguments(self.settings, request, "s3a")}
        return {"args": flatten(arguments)}

    def submit(self, request: JobRequest) -> Path:
        """Write the request atomically (a .tmp file renamed into place); return the result file to wait for."""
        jobs = self.settings.glue.jobs_dir
        (jobs / "requests").mkdir(parents=True, exist_ok=True)
        pending = jobs / "requests" / f"{request.run_id}.json.tmp"
        pending.write_text(json.dumps(self.request_payload(request)))
        pending.replace(pending.with_suffix(""))
        return jobs / "results" / f"{request.run_id}.json"

    def wait(self, result_file: Path) -> dict[str, Any]:
        """Poll for the runner's answer until the Spark timeout."""
        deadline = time.monotonic() + self.settings.spark.timeout_seconds
        while not result_file.is_file():
            if time.monotonic() > deadline:
                raise TransformError(
                    f"Glue container job: no result in {result_file} after {self.settings.spark.timeout_seconds:.0f} s"
                    " (is the `glue` service running? `docker compose logs glue`)",
                    transient=True,
                )
            self._sleep(1.0)
        return json.loads(result_file.read_text())

    def run(self, request: JobRequest) -> dict[str, Any]:
        """Submit, wait, and return the job's summary; a failure is mapped as in every profile (`job_failure`)."""
        LOG.info("Glue container job: run %s, ingest_date %s", request.run_id, request.ingest_date)
        result = self.wait(self.submit(request))
        exit_code = int(result.get("exit_code", 1))
        if exit_code != 0:
            raise job_failure("Glue container job", exit_code, str(result.get("stderr_tail", "")))
        client = self._s3_client or s3_client_for(self.settings)
        return read_summary(client, self.settings.storage.curated_bucket, request.run_id)


def make_launcher(settings: Settings, *, s3_client: Any = None, glue_client: Any = None) -> TransformLauncher:
    """The launcher for `settings.profile`."""
    from ecom_pipeline.transform.glue import GlueLauncher  # here: glue.py imports this module

    try:
        profile = Profile(settings.profile)
    except ValueError:
        valid = ", ".join(p.value for p in Profile)
        raise ConfigError(f"unknown profile {settings.profile!r}; valid profiles: {valid}") from None
    if profile is Profile.LOCAL:
        return LocalSparkLauncher(settings, s3_client=s3_client)
    if profile is Profile.COMPOSE:
        return ComposeLauncher(settings, s3_client=s3_client)
    return GlueLauncher(
        settings,
        glue_client=glue_client or make_glue_client(settings.storage),
        s3_client=s3_client or s3_client_for(settings),
    )
