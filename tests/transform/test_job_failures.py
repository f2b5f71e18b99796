"""One mapping of a failed job run, in every profile: configuration (exit 2) and data integrity (exit 3) are final.

The local launcher reads the exit code of spark-submit, the compose launcher the exit code the Glue container's
runner reports, the Glue launcher only the run's ErrorMessage: all three go through `job_failure`.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from decimal import Decimal

import pytest

from ecom_pipeline.exceptions import TransformError, is_transient
from ecom_pipeline.transform import process
from ecom_pipeline.transform.process import job_failure, run_job_process
from spark_jobs.orders import errors, outcome
from spark_jobs.orders import job as orders_job
from spark_jobs.orders.args import parse_args
from spark_jobs.orders.schema import QUARANTINE_REASONS

LOG = logging.getLogger("test.job-failures")


def test_the_launchers_and_the_job_agree_on_exit_codes_and_markers() -> None:
    assert (process.CONFIG_ERROR_EXIT_CODE, process.CONFIG_ERROR_MARKER) == (
        errors.EXIT_CONFIG_ERROR,
        errors.CONFIG_ERROR_MARKER,
    )
    assert (process.DATA_INTEGRITY_ERROR_EXIT_CODE, process.DATA_INTEGRITY_ERROR_MARKER) == (
        errors.EXIT_DATA_INTEGRITY_ERROR,
        errors.DATA_INTEGRITY_ERROR_MARKER,
    )


def test_the_jobs_balance_check_is_a_data_integrity_error_not_an_assertion() -> None:
    values = {name: 0 for name in QUARANTINE_REASONS}
    values.update(rows_written=5, duplicates_removed=0, partitions_written="2026-06-17")
    values.update(revenue_written=Decimal("10.00"), profit_written=Decimal("4.00"))
    args = parse_args(
        ["orders_job.py", "--JOB_NAME", "t", "--ingest_date", "2026-06-17", "--run_id", "r", "--raw_path", "s3://r",
         "--curated_path", "s3://c", "--quarantine_path", "s3://q", "--summary_path", "s3://s/x.json"]
    )  # fmt: skip
    with pytest.raises(errors.JobDataIntegrityError, match="rows_read 6 != written"):
        outcome.summarize(values, args, rows_read=6)


def test_the_job_exits_3_with_one_line_on_a_data_integrity_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unbalanced(_spark: object, _args: object) -> None:
        raise errors.JobDataIntegrityError("rows_read 6 != written + quarantined + duplicates = 5")

    monkeypatch.setattr(orders_job, "build_session", lambda _args: (None, None))  # no Spark needed to fail
    monkeypatch.setattr(orders_job, "run", unbalanced)
    argv = ["orders_job.py", *[item for name in ("raw_path", "curated_path", "quarantine_path", "summary_path")
                               for item in (f"--{name}", f"file:///tmp/{name}")]]  # fmt: skip
    assert orders_job.main([*argv, "--ingest_date", "2026-06-17", "--run_id", "r"]) == 3
    assert capsys.readouterr().err.strip().splitlines() == [
        "orders_job: data integrity error: rows_read 6 != written + quarantined + duplicates = 5"
    ]


def fake_job(script: str) -> list[str]:
    """A command standing in for spark-submit: Python running `script`."""
    return [sys.executable, "-c", textwrap.dedent(script)]


def test_local_runner_maps_exit_3_to_a_final_error_with_the_jobs_line() -> None:
    script = """
        import sys
        print("orders_job INFO run r: ingest_date=2026-06-17")
        print("orders_job: data integrity error: rows_read 6 != written + quarantined + duplicates = 5",
              file=sys.stderr)
        sys.exit(3)
    """
    with pytest.raises(TransformError) as error:
        run_job_process(fake_job(script), os.environ, 30, LOG, "local Spark job")
    assert not is_transient(error.value)
    assert str(error.value) == (
        "local Spark job failed its data-integrity check: rows_read 6 != written + quarantined + duplicates = 5"
    )


@pytest.mark.parametrize(
    ("exit_code", "output", "transient", "fragment"),
    [
        (2, "orders_job: config error: --cost_ratio: '1.5' must be between 0 and 1", False, "rejected its config"),
        (3, "orders_job: data integrity error: rows_read 6 != 5", False, "failed its data-integrity check: rows_read"),
        (1, "Traceback ...\nValueError: boom", True, "failed with exit code 1; last output:"),
        (124, "job_runner: timed out", True, "exit code 124"),
        # Glue: no exit code, the run's ErrorMessage carries the job's line (the job raises it on Glue).
        (None, "RuntimeError: orders_job: config error: --raw_path: no manifest", False, "config"),
        (None, "RuntimeError: orders_job: data integrity error: rows_read 6 != 5", False, "data-integrity"),
        (None, "An error occurred while calling o123.parquet: executor lost", True, "executor lost"),
        # Refused by S3 or IAM: the same role is refused again (s3a's message locally, Glue's on AWS).
        (
            1,
            "java.nio.file.AccessDeniedException: s3a://curated/orders: getFileStatus on ...: 403 Forbidden",
            False,
            "",
        ),
        (
            None,
            "User: arn:aws:sts::1:assumed-role/ecom-glue-orders-job/x is not authorized to perform: s3:PutObject",
            False,
            "",
        ),
    ],
)
def test_every_launcher_maps_the_same_outcome_the_same_way(
    exit_code: int | None, output: str, transient: bool, fragment: str
) -> None:
    error = job_failure("the job", exit_code, output)
    assert error.transient is transient
    assert fragment in str(error)
