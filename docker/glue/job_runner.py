"""Spark job runner for the Glue 4 container: turns request files on a shared volume into `spark-submit` runs.

Runs inside public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01 (Python 3.10), so it uses the
standard library only and avoids anything newer than Python 3.7. The contract with the pipeline's
ComposeLauncher (see docs/compose.md):

1. The launcher stages the job's files on the same volume, as it would upload them for Glue, and writes
   `<jobs>/requests/<id>.json.tmp`, then renames it to `<id>.json` (atomic), with `"script"` (the entry
   script), `"py_files"` (the package zip; optional) and `"args"` (`["--JOB_NAME", "...", "--raw_path",
   "s3a://...", ...]`); the files are paths relative to `<jobs>`, which each container mounts where it likes.
2. The runner claims it by renaming it to `<jobs>/running/<id>.json`, runs
   `spark-submit <s3a settings for LocalStack> --py-files <jobs>/<py_files> <jobs>/<script> <args>`, and keeps
   the full output in `<jobs>/logs/<id>.log`.
3. It writes `<jobs>/results/<id>.json` (again tmp + rename) with `exit_code`, `stderr_tail` and timings; the
   launcher reads the job's summary where the job wrote it (`--summary_path`, on S3).

One job runs at a time: Spark in local mode already uses every core the container has.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TAIL_LINES = 60
TIMEOUT_EXIT_CODE = 124
INVALID_REQUEST_EXIT_CODE = 2
HEARTBEAT_FILE = "runner.heartbeat"
# Glue 4 ships hadoop-aws and the AWS SDK v1 bundle on its classpath; these are S3A's SDK v1 class names.
ENV_CREDENTIALS_PROVIDER = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
GLUE_SPARK_SUBMIT = "/home/glue_user/spark/bin/spark-submit"


class InvalidRequestError(ValueError):
    """A request file that cannot be run: bad JSON, bad args, or a job file outside the jobs folder."""


@dataclass(frozen=True)
class RunnerConfig:
    """Where the runner reads and writes, and how it calls spark-submit; every field has an env var."""

    jobs_dir: Path
    spark_submit: str
    s3_endpoint: str | None
    master: str = "local[*]"
    driver_memory: str = "2g"
    timeout_seconds: float = 3600.0
    poll_seconds: float = 1.0
    extra_jars: tuple[str, ...] = ()
    extra_conf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RunnerConfig:
        """Read the configuration from `JOB_RUNNER_*` and the standard AWS variables."""
        env = dict(os.environ if env is None else env)
        jars = env.get("JOB_RUNNER_SPARK_JARS", "")
        extra_conf = json.loads(env.get("JOB_RUNNER_SPARK_CONF", "{}"))
        return cls(
            jobs_dir=Path(env.get("JOB_RUNNER_JOBS_DIR", "/jobs")),
            spark_submit=env.get("JOB_RUNNER_SPARK_SUBMIT") or find_spark_submit(env),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
            master=env.get("JOB_RUNNER_MASTER", "local[*]"),
            driver_memory=env.get("JOB_RUNNER_DRIVER_MEMORY", "2g"),
            timeout_seconds=float(env.get("JOB_RUNNER_TIMEOUT_SECONDS", "3600")),
            poll_seconds=float(env.get("JOB_RUNNER_POLL_SECONDS", "1")),
            extra_jars=tuple(jar for jar in jars.split(",") if jar),
            extra_conf={str(key): str(value) for key, value in extra_conf.items()},
        )

    def folder(self, name: str) -> Path:
        """One of the runner's sub-folders: requests, running, results, logs."""
        return self.jobs_dir / name


@dataclass(frozen=True)
class JobRequest:
    """A validated request: the entry script, the files for `--py-files`, and the arguments Glue would pass."""

    request_id: str
    script: Path
    args: tuple[str, ...]
    py_files: tuple[Path, ...] = ()


def find_spark_submit(env: dict[str, str]) -> str:
    """Locate spark-submit: PATH, then $SPARK_HOME, then where the Glue 4 image keeps it."""
    on_path = shutil.which("spark-submit", path=env.get("PATH"))
    if on_path:
        return on_path
    spark_home = env.get("SPARK_HOME")
    if spark_home and Path(spark_home, "bin", "spark-submit").exists():
        return str(Path(spark_home, "bin", "spark-submit"))
    return GLUE_SPARK_SUBMIT


def request_id_of(path: Path) -> str:
    """The request id: the file name without `.json` (no `str.removesuffix`: old Pythons lack it)."""
    return path.name[: -len(".json")] if path.name.endswith(".json") else path.name


def now_iso() -> str:
    """Current UTC time as ISO 8601 (Python 3.10 has no `datetime.UTC`)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")  # noqa: UP017


def parse_request(path: Path, jobs_dir: Path) -> JobRequest:
    """Read and validate one request file.

    Raises:
        InvalidRequestError: the file is not a JSON object with a list of string `args`, or its `script` or
            one of its `py_files` is not an existing file inside `jobs_dir`.
    """
    request_id = request_id_of(path)
    if not REQUEST_ID.match(request_id):
        raise InvalidRequestError(f"request id {request_id!r} must match {REQUEST_ID.pattern}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidRequestError(f"request {request_id} is not readable JSON: {e}") from e
    if not isinstance(payload, dict):
        raise InvalidRequestError(f"request {request_id} must be a JSON object, got {type(payload).__name__}")
    args = payload.get("args")
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise InvalidRequestError(f"request {request_id}: 'args' must be a list of strings")
    py_files = payload.get("py_files", [])
    if not isinstance(py_files, list):
        raise InvalidRequestError(f"request {request_id}: 'py_files' must be a list of paths")
    return JobRequest(
        request_id=request_id,
        script=job_file(request_id, jobs_dir, payload.get("script"), "script"),
        args=tuple(args),
        py_files=tuple(job_file(request_id, jobs_dir, name, "py_files") for name in py_files),
    )


def job_file(request_id: str, jobs_dir: Path, name: Any, field: str) -> Path:
    """An existing file the request names, relative to `jobs_dir` and inside it.

    Relative, without `..` or hidden parts: a request must not be able to point spark-submit anywhere else.
    """
    relative = PurePosixPath(name) if isinstance(name, str) else None
    if (
        relative is None
        or relative.is_absolute()
        or not relative.parts
        or any(part == ".." or part.startswith(".") for part in relative.parts)
    ):
        raise InvalidRequestError(f"request {request_id}: '{field}' must name a file inside {jobs_dir}, got {name!r}")
    path = jobs_dir.joinpath(*relative.parts)
    if not path.is_file():
        raise InvalidRequestError(f"request {request_id}: {field} {path} does not exist")
    return path


def spark_conf(config: RunnerConfig) -> dict[str, str]:
    """S3A settings that point Spark at the S3 emulator; `s3://` paths are served by S3A too."""
    conf: dict[str, str] = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Keys come from the container's AWS_* variables, never from the command line.
        "spark.hadoop.fs.s3a.aws.credentials.provider": ENV_CREDENTIALS_PROVIDER,
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.showConsoleProgress": "false",
    }
    if config.s3_endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = config.s3_endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        uses_tls = config.s3_endpoint.startswith("https")
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(uses_tls).lower()
    if config.extra_jars:
        conf["spark.jars"] = ",".join(config.extra_jars)
    conf.update(config.extra_conf)
    return conf


def build_command(config: RunnerConfig, request: JobRequest) -> list[str]:
    """The spark-submit argv for one request."""
    command = [config.spark_submit, "--master", config.master, "--driver-memory", config.driver_memory]
    for key, value in spark_conf(config).items():
        command += ["--conf", f"{key}={value}"]
    if request.py_files:
        command += ["--py-files", ",".join(str(path) for path in request.py_files)]
    return [*command, str(request.script), *request.args]


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log file."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so that a reader polling for `path` never sees a half-written file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def run_job(config: RunnerConfig, request: JobRequest, heartbeat: Path | None = None) -> dict[str, Any]:
    """Run spark-submit for one request, wait (bounded by the timeout) and describe the outcome.

    While it waits it keeps touching `heartbeat`: a launcher waiting for the result tells a long job from a runner
    that stopped (its container gone) by the heartbeat's age.
    """
    log_path = config.folder("logs") / f"{request.request_id}.log"
    command = build_command(config, request)
    started = time.monotonic()
    started_at = now_iso()
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        exit_code = None
        while exit_code is None:
            if heartbeat is not None:
                heartbeat.touch()
            try:
                exit_code = process.wait(timeout=min(config.poll_seconds, config.timeout_seconds))
            except subprocess.TimeoutExpired:
                if time.monotonic() - started >= config.timeout_seconds:
                    process.kill()
                    process.wait()
                    log.write(f"\njob_runner: killed after {config.timeout_seconds:.0f} s\n")
                    exit_code = TIMEOUT_EXIT_CODE
    return {
        "id": request.request_id,
        "exit_code": exit_code,
        "stderr_tail": tail(log_path),
        "log_path": str(log_path),
        "command": command,
        "started_at": started_at,
        "finished_at": now_iso(),
        "duration_seconds": round(time.monotonic() - started, 3),
    }


def process_request(config: RunnerConfig, request_file: Path) -> dict[str, Any]:
    """Claim one request file, run it, write its result file and return the result."""
    running = config.folder("running") / request_file.name
    os.replace(request_file, running)  # the claim: a second runner would find the request gone
    try:
        request = parse_request(running, config.jobs_dir)
        result = run_job(config, request, heartbeat=config.jobs_dir / HEARTBEAT_FILE)
    except InvalidRequestError as e:
        result = {
            "id": request_id_of(running),
            "exit_code": INVALID_REQUEST_EXIT_CODE,
            "stderr_tail": f"job_runner: invalid request: {e}\n",
            "started_at": now_iso(),
            "finished_at": now_iso(),
            "duration_seconds": 0.0,
        }
    write_json_atomically(config.folder("results") / running.name, result)
    if running.exists():
        running.unlink()
    return result


def prepare_folders(config: RunnerConfig) -> None:
    """Create the sub-folders, writable by any uid: the launcher may run under another user."""
    for name in ("requests", "running", "results", "logs"):
        folder = config.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)


def pending_requests(config: RunnerConfig) -> list[Path]:
    """Request files ready to run, oldest first (`.tmp` files are still being written)."""
    requests = config.folder("requests").glob("*.json")
    return sorted(requests, key=lambda path: (path.stat().st_mtime, path.name))


def serve(config: RunnerConfig, max_requests: int | None = None) -> int:
    """Poll for requests until stopped (or until `max_requests` have run); beat a heartbeat file."""
    prepare_folders(config)
    heartbeat = config.jobs_dir / HEARTBEAT_FILE
    done = 0
    print(f"job_runner: watching {config.folder('requests')}, spark-submit {config.spark_submit}", flush=True)
    while max_requests is None or done < max_requests:
        heartbeat.touch()
        for request_file in pending_requests(config):
            print(f"job_runner: running {request_file.name}", flush=True)
            result = process_request(config, request_file)
            print(f"job_runner: {result['id']} exited {result['exit_code']}", flush=True)
            if result["exit_code"] != 0:
                print(result["stderr_tail"], end="", flush=True)
            done += 1
            heartbeat.touch()
        time.sleep(config.poll_seconds)
    return 0


def check_heartbeat(config: RunnerConfig, max_age_seconds: float = 30.0) -> int:
    """Health check: 0 when the runner's heartbeat is fresh (it beats while a job runs too)."""
    heartbeat = config.jobs_dir / HEARTBEAT_FILE
    try:
        age = time.time() - heartbeat.stat().st_mtime
    except OSError:
        return 1
    return 0 if age <= max_age_seconds else 1


def main(argv: list[str] | None = None) -> int:
    """Command line: serve forever, or `--check` for the container health check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 0 if a runner is alive, 1 otherwise.")
    parser.add_argument("--max-requests", type=int, default=None, help="Stop after this many jobs (tests).")
    options = parser.parse_args(argv)
    config = RunnerConfig.from_env()
    if options.check:
        return check_heartbeat(config)
    return serve(config, max_requests=options.max_requests)


if __name__ == "__main__":
    sys.exit(main())
