"""LocalSparkLauncher's command and environment, and the job-process runner, with small real subprocesses.

The launcher running the real job on moto is tested in tests/spark_jobs/test_orders_job_e2e.py.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyspark
import pytest
from pydantic import SecretStr

from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform import JobRequest, LocalSparkLauncher
from ecom_pipeline.transform.local import LOG4J_CONFIG
from ecom_pipeline.transform.process import run_job_process

KEY_ID, SECRET = "AKIDLOCALTEST", "local-secret-value-123"  # distinctive, to search the command line for
REQUEST = JobRequest(ingest_date=date(2026, 6, 17), run_id="run-9", cost_ratio=Decimal("0.65"))
LOG = logging.getLogger("test.job")
ENV_PROVIDER = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local-profile settings pointing at an http emulator with explicit keys."""
    return Settings().updated(
        top={"work_dir": tmp_path / "work"},
        storage={
            "aws_endpoint_url": "http://127.0.0.1:5999",
            "aws_access_key_id": SecretStr(KEY_ID),
            "aws_secret_access_key": SecretStr(SECRET),
        },
        spark={"master": "local[2]", "shuffle_partitions": 3, "driver_memory": "1g"},
    )


def confs(command: list[str]) -> dict[str, str]:
    """The `--conf key=value` pairs of a spark-submit command."""
    pairs = [command[i + 1] for i, item in enumerate(command) if item == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_command_runs_the_job_script_through_s3a_with_no_secrets(settings: Settings) -> None:
    launcher = LocalSparkLauncher(settings)
    command = launcher.command(REQUEST)

    assert Path(command[0]).name == "spark-submit" and Path(command[0]).is_file()
    assert command[command.index("--master") + 1] == "local[2]"
    assert command[command.index("--driver-memory") + 1] == "1g"
    jars = [Path(jar) for jar in command[command.index("--jars") + 1].split(",")]
    assert [jar.name for jar in jars] == ["hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar"]
    assert all(jar.is_file() for jar in jars)
    assert (
        confs(command).items()
        >= {
            "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:5999",
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": ENV_PROVIDER,
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "3",
        }.items()
    )
    # The entry script and the package zip, staged in the work dir as Glue gets them (`--extra-py-files`).
    staged = settings.work_dir.resolve() / "spark-job"
    script_at = command.index("--py-files") + 2
    [package] = [Path(item) for item in command[script_at - 1].split(",")]
    assert (package.name, Path(command[script_at]).name) == ("spark_jobs.zip", "orders_job.py")
    assert package.parent == Path(command[script_at]).parent and package.parent.parent == staged
    assert launcher.job_files.py_files == (package,)
    arguments = dict(zip(command[script_at + 1 :: 2], command[script_at + 2 :: 2], strict=True))
    assert (
        arguments.items()
        >= {
            "--raw_path": "s3a://ecom-raw/dummyjson",
            "--curated_path": "s3a://ecom-curated/orders",
            "--quarantine_path": "s3a://ecom-curated/quarantine/orders",
            "--ingest_date": "2026-06-17",
            "--run_id": "run-9",
            "--cost_ratio": "0.65",
            "--default_order_status": "completed",
            "--summary_path": "s3a://ecom-curated/job-summaries/run_id=run-9.json",
        }.items()
    )
    assert not any(KEY_ID in item or SECRET in item for item in command)


def test_secrets_travel_in_the_environment(settings: Settings) -> None:
    env = LocalSparkLauncher(settings).environment()
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (KEY_ID, SECRET)
    assert (env["SPARK_LOCAL_IP"], env["PYSPARK_PYTHON"]) == ("127.0.0.1", sys.executable)


def test_https_endpoint_keeps_ssl_and_no_endpoint_means_real_s3(settings: Settings) -> None:
    https = settings.updated(storage={"aws_endpoint_url": "https://s3.example.test"})
    assert confs(LocalSparkLauncher(https).command(REQUEST))["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    real = confs(LocalSparkLauncher(settings.updated(storage={"aws_endpoint_url": None})).command(REQUEST))
    assert not any(key.startswith("spark.hadoop.fs.s3a.endpoint") for key in real)


def log4j_properties(text: str) -> dict[str, str]:
    """The `key = value` lines of a log4j 2 properties file."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return dict((key.strip(), value.strip()) for key, value in (line.split("=", 1) for line in lines))


def test_the_driver_logs_with_sparks_defaults_and_hadoops_metrics_warnings_quiet(settings: Settings) -> None:
    options = confs(LocalSparkLauncher(settings).command(REQUEST))["spark.driver.extraJavaOptions"].split()
    assert f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}" in options
    ours = log4j_properties(LOG4J_CONFIG.read_text())
    [spark_core] = (Path(pyspark.__file__).parent / "jars").glob("spark-core_*.jar")
    with zipfile.ZipFile(spark_core) as jar:  # the defaults Spark uses when no configuration is given
        sparks = log4j_properties(jar.read("org/apache/spark/log4j2-defaults.properties").decode())
    assert ours.items() >= sparks.items()  # the same layout, which the runner's SPARK_LOG_LINE reads
    assert {key: value for key, value in ours.items() if key not in sparks} == {
        "logger.hadoop_metrics.name": "org.apache.hadoop.metrics2",
        "logger.hadoop_metrics.level": "error",
        "logger.s3a_metrics.name": "org.apache.hadoop.fs.s3a.S3AInstrumentation",
        "logger.s3a_metrics.level": "error",
    }


def test_missing_java_is_a_clear_non_transient_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(TransformError) as error:
        LocalSparkLauncher(settings).run(REQUEST)
    assert error.value.transient is False
    assert "java not found" in str(error.value) and "\n" not in str(error.value)


def fake_job(script: str) -> list[str]:
    """A command standing in for spark-submit: Python running `script`."""
    return [sys.executable, "-c", textwrap.dedent(script)]


def test_runner_logs_job_and_warning_lines_and_hides_spark_info(caplog: pytest.LogCaptureFixture) -> None:
    script = """
        print("26/06/17 10:15:00 INFO SparkContext: Running Spark version 3.5.9")
        print("26/06/17 10:15:01 WARN NativeCodeLoader: Unable to load native-hadoop library")
        print("26/06/17 10:15:02 WARN TaskSetManager: Lost task 0.0 in stage 1.0")
        print("orders_job INFO summary {}")
    """
    with caplog.at_level(logging.DEBUG, logger="test.job"):
        run_job_process(fake_job(script), os.environ, 30, LOG)
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (logging.DEBUG, "26/06/17 10:15:00 INFO SparkContext: Running Spark version 3.5.9"),
        # a warning every local run prints and nobody can act on stays out of sight
        (logging.DEBUG, "26/06/17 10:15:01 WARN NativeCodeLoader: Unable to load native-hadoop library"),
        (logging.WARNING, "26/06/17 10:15:02 WARN TaskSetManager: Lost task 0.0 in stage 1.0"),
        (logging.INFO, "orders_job INFO summary {}"),
    ]


def test_runner_maps_exit_2_to_a_non_transient_error_with_the_jobs_message() -> None:
    script = """
        import sys
        print("26/06/17 10:15:00 INFO SparkContext: noise")
        print("orders_job: config error: --cost_ratio: '1.5' must be between 0 and 1", file=sys.stderr)
        sys.exit(2)
    """
    with pytest.raises(TransformError) as error:
        run_job_process(fake_job(script), os.environ, 30, LOG)
    assert error.value.transient is False
    assert str(error.value).endswith("--cost_ratio: '1.5' must be between 0 and 1")


def test_runner_maps_other_failures_to_a_transient_error_with_the_output_tail() -> None:
    script = """
        import sys
        for i in range(40):
            print(f"orders_job INFO step {i}")
        raise ValueError("boom in the join")
    """
    with pytest.raises(TransformError) as error:
        run_job_process(fake_job(script), os.environ, 30, LOG)
    assert error.value.transient is True
    message = str(error.value)
    assert "exit code 1" in message and "ValueError: boom in the join" in message
    assert "step 39" in message and "step 0\n" not in message  # only the tail


def test_runner_stops_a_job_that_outlives_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """
    with pytest.raises(TransformError) as error:
        run_job_process(fake_job(script), os.environ, 1.5, LOG)
    assert error.value.transient is True and "timed out after 1.5 s" in str(error.value)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_runner_reports_a_missing_executable_as_non_transient() -> None:
    with pytest.raises(TransformError) as error:
        run_job_process(["/nonexistent/spark-submit"], os.environ, 5, LOG)
    assert error.value.transient is False
