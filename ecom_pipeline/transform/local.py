"""The `local` profile's launcher: this environment's spark-submit against S3 through s3a.

Also what a local Spark needs: the s3a settings and jars, the job's AWS keys, Java, and the JVM class-data archive
that makes a short job start faster.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from ecom_pipeline.aws import frozen_credentials, make_s3_client
from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobRequest, JobSummary, flatten, job_arguments, read_summary
from ecom_pipeline.transform.job_package import JobFiles, stage_job_files
from ecom_pipeline.transform.process import run_job_process

LOG = logging.getLogger(__name__)
S3A_JARS = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
ENV_CREDENTIALS_PROVIDER = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")  # Spark's defaults, Hadoop's metrics warnings quiet


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
    """Runs the job with this environment's spark-submit against S3 through s3a (the `local` profile).

    spark-submit gets the entry script and the package zip (`--py-files`), as Glue gets them: staged once per
    content under `<work_dir>/spark-job/`, unless `job_files` names others (the tests' stand-in for Glue passes
    what it downloaded).
    """

    def __init__(self, settings: Settings, s3_client: Any = None, job_files: JobFiles | None = None) -> None:
        self.settings = settings
        self._job_files = job_files
        self._s3_client = s3_client
        self.archive: ClassDataArchive | None = None

    @property
    def job_files(self) -> JobFiles:
        """The entry script and the `--py-files` to run (staged from the repository when not given)."""
        if self._job_files is None:
            self._job_files = stage_job_files(self.settings.work_dir.resolve() / "spark-job")
        return self._job_files

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
        """spark-submit of the entry script and package zip with these `--name value` arguments, as Glue passes them."""
        spark = self.settings.spark
        jars = find_s3a_jars()
        spark_submit = find_spark_submit(spark.python)
        java_options = [*spark.java_options.split(), f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"]
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
        files = self.job_files
        return [
            str(spark_submit),
            "--master",
            spark.master,
            "--driver-memory",
            spark.driver_memory,
            "--jars",
            ",".join(str(jar) for jar in jars),
            *[item for key, value in confs.items() for item in ("--conf", f"{key}={value}")],
            "--py-files",
            ",".join(str(path) for path in files.py_files),
            str(files.script),
            *flatten(arguments),
        ]

    def run(self, request: JobRequest) -> JobSummary:
        """Run the job to completion and return its summary."""
        require_java()
        command = self.command(request)
        LOG.info("spark-submit orders job: run %s, ingest_date %s", request.run_id, request.ingest_date)
        self.run_command(command)
        client = self._s3_client or make_s3_client(self.settings.storage)
        return read_summary(client, self.settings.storage, request.run_id)

    def run_command(self, command: list[str], what: str = "local Spark job") -> None:
        """Run a `command()`/`submit_command()` line to completion; keep the class-data archive only on success."""
        succeeded = False
        try:
            run_job_process(command, self.environment(), self.settings.spark.timeout_seconds, LOG, what)
            succeeded = True
        finally:
            if self.archive is not None:
                self.archive.commit(succeeded)
