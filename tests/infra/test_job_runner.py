"""docker/glue/job_runner.py: request validation, the spark-submit command, and real runs through its loop.

The real runs use this venv's spark-submit (Spark 3.5) with the s3a jars from sagemaker-pyspark against
the moto S3 server, standing in for the Glue 4 image's Spark and LocalStack.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from infra_paths import JOB_RUNNER

from ecom_local.emulators.s3 import S3Emulator


def load_runner() -> ModuleType:
    """Import the runner from its file (it is a standalone script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("job_runner", JOB_RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["job_runner"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


runner = load_runner()
SMALL_SPARK = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1"}

# An entry script that needs its package from `--py-files`, as the orders job does.
COPY_JOB = """
import sys
from pyspark.sql import SparkSession
from copy_helpers import copy_carts

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
spark = SparkSession.builder.appName(args["--JOB_NAME"]).getOrCreate()
copy_carts(spark, args)
spark.stop()
"""
COPY_HELPERS = """
import json

def copy_carts(spark, args):
    carts = spark.read.schema("cart_id long, total string").json(args["--raw_path"])
    carts.write.mode("overwrite").parquet(args["--curated_path"])
    with open(args["--summary_path"], "w") as summary:
        json.dump({"rows_written": carts.count(), "run_id": args["--run_id"]}, summary)
"""

FAILING_JOB = """
import sys
print("orders_job: cost_ratio must be below 1", file=sys.stderr)
sys.exit(3)
"""


def s3a_jars() -> str:
    """hadoop-aws and the AWS SDK bundle, shipped inside the sagemaker-pyspark wheel (see FACTS.md)."""
    spec = importlib.util.find_spec("sagemaker_pyspark")
    assert spec and spec.submodule_search_locations
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    prefixes = ("hadoop-aws-", "aws-java-sdk-bundle-")
    wanted = [jar for jar in sorted(jars.glob("*.jar")) if jar.name.startswith(prefixes)]
    return ",".join(map(str, wanted))


@pytest.fixture
def job_folder(tmp_path: Path) -> Path:
    """Job files staged on the shared folder, as the ComposeLauncher stages the orders job's."""
    folder = tmp_path / "jobs" / "packages" / "test"
    folder.mkdir(parents=True)
    (folder / "copy_job.py").write_text(COPY_JOB, encoding="utf-8")
    (folder / "failing_job.py").write_text(FAILING_JOB, encoding="utf-8")
    with zipfile.ZipFile(folder / "helpers.zip", "w") as archive:
        archive.writestr("copy_helpers.py", COPY_HELPERS)
    return folder


@pytest.fixture
def config(tmp_path: Path, job_folder: Path) -> Any:
    config = runner.RunnerConfig(
        jobs_dir=tmp_path / "jobs",
        spark_submit="spark-submit",
        s3_endpoint="http://localstack:4566",
    )
    runner.prepare_folders(config)
    return config


def write_request(jobs_dir: Path, request_id: str, payload: Any) -> Path:
    """Write a request the way the ComposeLauncher must: a .tmp file renamed into place."""
    target = jobs_dir / "requests" / f"{request_id}.json"
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    os.replace(temporary, target)
    return target


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "not readable JSON"),
        (["--run_id", "x"], "must be a JSON object"),
        ({"args": "--run_id x"}, "'args' must be a list of strings"),
        ({"args": ["--cost_ratio", 0.6]}, "'args' must be a list of strings"),
        ({"args": []}, "'script' must name a file inside"),
        ({"args": [], "script": "../../etc/passwd"}, "'script' must name a file inside"),
        ({"args": [], "script": "/etc/passwd"}, "'script' must name a file inside"),
        ({"args": [], "script": "packages/test/missing_job.py"}, "does not exist"),
        ({"args": [], "script": "packages/test/copy_job.py", "py_files": "helpers.zip"}, "'py_files' must be a list"),
        (
            {"args": [], "script": "packages/test/copy_job.py", "py_files": ["../helpers.zip"]},
            "'py_files' must name a file inside",
        ),
    ],
    ids=[
        "bad-json", "not-an-object", "args-string", "args-number", "no-script", "path-escape", "absolute-path",
        "missing-script", "py-files-string", "py-files-escape",
    ],
)  # fmt: skip
def test_invalid_requests_get_a_result_without_running_spark(config: Any, payload: Any, message: str) -> None:
    request = write_request(config.jobs_dir, "bad-request", payload)
    result = runner.process_request(config, request)
    assert result["exit_code"] == runner.INVALID_REQUEST_EXIT_CODE
    assert message in result["stderr_tail"]
    assert json.loads((config.jobs_dir / "results" / "bad-request.json").read_text()) == result
    assert not request.exists()
    assert list((config.jobs_dir / "running").iterdir()) == []


def test_command_points_s3a_at_the_emulator_and_keeps_secrets_off_the_command_line(
    config: Any, job_folder: Path
) -> None:
    request = runner.JobRequest(
        "r1", job_folder / "copy_job.py", ("--run_id", "r1", "--cost_ratio", "0.6"), (job_folder / "helpers.zip",)
    )
    command = runner.build_command(config, request)
    assert command[-7:] == [
        "--py-files", str(job_folder / "helpers.zip"), str(job_folder / "copy_job.py"), "--run_id", "r1",
        "--cost_ratio", "0.6",
    ]  # fmt: skip
    confs = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--conf")
    assert confs["spark.hadoop.fs.s3a.endpoint"] == "http://localstack:4566"
    assert confs["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert confs["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert confs["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert not any("secret" in key.lower() or "access.key" in key for key in confs)


def test_config_reads_the_environment() -> None:
    config = runner.RunnerConfig.from_env(
        {
            "JOB_RUNNER_JOBS_DIR": "/srv/jobs",
            "JOB_RUNNER_SPARK_SUBMIT": "/opt/spark/bin/spark-submit",
            "AWS_ENDPOINT_URL": "http://localstack:4566",
            "JOB_RUNNER_SPARK_JARS": "/a.jar,/b.jar",
            "JOB_RUNNER_SPARK_CONF": '{"spark.ui.enabled": "false"}',
        }
    )
    assert config.jobs_dir == Path("/srv/jobs")
    assert config.extra_jars == ("/a.jar", "/b.jar")
    assert runner.spark_conf(config)["spark.jars"] == "/a.jar,/b.jar"
    assert runner.spark_conf(config)["spark.ui.enabled"] == "false"


@pytest.fixture
def runner_process(
    tmp_path: Path, job_folder: Path, s3_emulator: S3Emulator
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], Path]]:
    """The runner's own loop in a subprocess, serving two requests, as the glue container runs it."""
    jobs_dir = tmp_path / "jobs"
    env = {
        **os.environ,
        "JOB_RUNNER_JOBS_DIR": str(jobs_dir),
        "JOB_RUNNER_SPARK_SUBMIT": str(Path(sys.executable).with_name("spark-submit")),
        "JOB_RUNNER_SPARK_JARS": s3a_jars(),
        "JOB_RUNNER_MASTER": "local[1]",
        "JOB_RUNNER_DRIVER_MEMORY": "1g",
        "JOB_RUNNER_POLL_SECONDS": "0.2",
        "JOB_RUNNER_TIMEOUT_SECONDS": "300",
        "JOB_RUNNER_SPARK_CONF": json.dumps(SMALL_SPARK),
        "AWS_ENDPOINT_URL": s3_emulator.endpoint_url,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, str(JOB_RUNNER), "--max-requests", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,  # Spark may leave spark-warehouse/ and derby files in its working directory
    )
    try:
        yield process, env, jobs_dir
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for_result(jobs_dir: Path, request_id: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    """Poll for a result file as the ComposeLauncher does, failing early if the runner died."""
    result_file = jobs_dir / "results" / f"{request_id}.json"
    deadline = time.monotonic() + 240
    while not result_file.exists():
        output = process.stdout.read() if process.stdout and process.poll() is not None else ""
        assert process.poll() is None, f"runner exited early: {output}"
        assert time.monotonic() < deadline, f"no result for {request_id}"
        time.sleep(0.2)
    return json.loads(result_file.read_text(encoding="utf-8"))


def test_runner_runs_spark_jobs_against_s3_and_reports_each_outcome(
    runner_process: tuple[subprocess.Popen[str], dict[str, str], Path],
    s3_emulator: S3Emulator,
    s3_buckets: dict[str, str],
) -> None:
    process, env, jobs_dir = runner_process
    s3 = boto3.client("s3", endpoint_url=s3_emulator.endpoint_url)
    totals = ((1, "10.50"), (2, "3.00"), (3, "7.25"))
    lines = [{"cart_id": cart_id, "total": total} for cart_id, total in totals]
    s3.put_object(
        Bucket=s3_buckets["raw"], Key="in/part-00000.json", Body="\n".join(json.dumps(line) for line in lines)
    )
    deadline = time.monotonic() + 30
    while not (jobs_dir / "requests").exists():  # the runner creates its folders on start
        assert time.monotonic() < deadline
        time.sleep(0.1)
    health = subprocess.run([sys.executable, str(JOB_RUNNER), "--check"], env=env, check=False, timeout=30)
    assert health.returncode == 0

    summary_path = jobs_dir.parent / "run-1-summary.json"
    write_request(
        jobs_dir,
        "run-1",
        {
            "script": "packages/test/copy_job.py",
            "py_files": ["packages/test/helpers.zip"],
            "args": [
                "--JOB_NAME",
                "ecom-orders-transform",
                "--raw_path",
                f"s3a://{s3_buckets['raw']}/in/",
                "--curated_path",
                f"s3://{s3_buckets['curated']}/orders",  # s3:// is served by S3A too
                "--run_id",
                "run-1",
                "--summary_path",
                str(summary_path),
            ],
        },
    )
    result = wait_for_result(jobs_dir, "run-1", process)
    assert result["exit_code"] == 0, result["stderr_tail"]
    assert json.loads(summary_path.read_text()) == {"rows_written": 3, "run_id": "run-1"}  # copy_helpers ran
    written = s3.list_objects_v2(Bucket=s3_buckets["curated"], Prefix="orders/")["Contents"]
    assert any(item["Key"].endswith(".parquet") for item in written)

    write_request(jobs_dir, "run-2", {"script": "packages/test/failing_job.py", "args": ["--run_id", "run-2"]})
    failed = wait_for_result(jobs_dir, "run-2", process)
    assert failed["exit_code"] == 3
    assert "cost_ratio must be below 1" in failed["stderr_tail"]
    assert Path(failed["log_path"]).is_file()

    assert process.wait(timeout=60) == 0  # --max-requests 2: done
    heartbeat = jobs_dir / runner.HEARTBEAT_FILE
    os.utime(heartbeat, (time.time() - 600, time.time() - 600))
    stale = subprocess.run([sys.executable, str(JOB_RUNNER), "--check"], env=env, check=False, timeout=30)
    assert stale.returncode == 1
