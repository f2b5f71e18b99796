"""Argument parsing of the orders job: Glue-style `--name value`, defaults, bad values named (no Spark)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from spark_jobs.orders.args import parse_args
from spark_jobs.orders.errors import JobConfigError
from spark_jobs.orders.job import main

REQUIRED = {
    "raw_path": "s3a://raw/dummyjson/",
    "curated_path": "s3a://curated/orders",
    "quarantine_path": "s3a://curated/quarantine/orders",
    "ingest_date": "2026-06-17",
    "run_id": "run-1",
    "summary_path": "s3a://curated/job-summaries/run_id=run-1.json",
}


def argv(**overrides: str | None) -> list[str]:
    """sys.argv for the job with `overrides` (None drops an argument)."""
    options = {**REQUIRED, **overrides}
    return [
        "orders_job.py",
        *[item for key, value in options.items() if value is not None for item in (f"--{key}", value)],
    ]


def test_defaults_and_glue_system_arguments_are_tolerated() -> None:
    glue_system_arguments = ["--TempDir", "s3://tmp/", "--extra-py-files", "s3://scripts/glue-scripts/spark_jobs.zip"]
    args = parse_args([*argv(), "--job-bookmark-option", "job-bookmark-disable", *glue_system_arguments])
    assert args.ingest_date == date(2026, 6, 17)
    assert args.cost_ratio == Decimal("0.6") and isinstance(args.cost_ratio, Decimal)
    assert args.default_order_status == "completed"
    assert args.raw_path == "s3a://raw/dummyjson"  # trailing slash dropped: paths are joined with "/"
    assert args.shuffle_partitions is None


def test_explicit_values_are_used() -> None:
    args = parse_args(argv(cost_ratio="0.65", default_order_status=" pending ", shuffle_partitions="4"))
    assert (args.cost_ratio, args.default_order_status, args.shuffle_partitions) == (
        Decimal("0.65"),
        "pending",
        4,
    )


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"ingest_date": "2026-13-01"}, "ingest_date"),
        ({"ingest_date": "17/06/2026"}, "ingest_date"),
        ({"cost_ratio": "0"}, "cost_ratio"),
        ({"cost_ratio": "1"}, "cost_ratio"),
        ({"cost_ratio": "abc"}, "cost_ratio"),
        ({"cost_ratio": "NaN"}, "cost_ratio"),
        ({"cost_ratio": "0.1234567"}, "cost_ratio"),
        ({"default_order_status": "  "}, "default_order_status"),
        ({"shuffle_partitions": "0"}, "shuffle_partitions"),
        ({"run_id": None}, "run_id"),
        ({"raw_path": " "}, "raw_path"),
    ],
)
def test_bad_values_raise_a_config_error_naming_the_argument(overrides: dict[str, str | None], argument: str) -> None:
    with pytest.raises(JobConfigError) as error:
        parse_args(argv(**overrides))
    assert error.value.argument == argument
    assert str(error.value).startswith(f"--{argument}: ")


def test_main_exits_2_with_one_line_naming_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv(ingest_date="yesterday")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["orders_job: config error: --ingest_date: 'yesterday' is not a YYYY-MM-DD date"]
