"""The fast tier (`uv run pytest -m "not slow"`) leaves out what starts Spark, a Prefect API, the Snowflake emulator,
Docker or the IAM stack, and keeps the rest: tests/conftest.py's rule, checked on the tests this session collected."""

from __future__ import annotations

from collections import defaultdict

import pytest

# Modules every test of which starts one of those things, and what it starts.
STARTS_SOMETHING_SLOW = {
    "tests/spark_jobs/test_orders_job_transforms.py": "the in-process SparkSession",
    "tests/spark_jobs/test_orders_job_e2e.py": "the job by spark-submit",
    "tests/flows/test_pipeline.py": "whole flow runs",
    "tests/flows/test_reprocess.py": "whole flow runs",
    "tests/reliability/test_fault_api_and_s3.py": "a whole flow run under faults",
    "tests/docs/test_prefect_doc.py": "a Prefect server and a worker",
    "tests/warehouse/test_loader.py": "the Snowflake emulator",
    "tests/containers/test_compose_stack.py": "Docker",
    "tests/aws/test_iam_enforced_flow.py": "the IAM-enforcing stack and whole flow runs",
    "tests/bench/test_bench_smoke.py": "the bench",
}
FAST = ("tests/extract/test_extract_models.py", "tests/reliability/test_run_lock.py", "tests/test_fast_tier.py")


def is_slow(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None


def test_what_starts_spark_servers_docker_or_flows_is_slow_and_the_rest_is_fast(
    collected_items: list[pytest.Item],
) -> None:
    by_module: dict[str, list[pytest.Item]] = defaultdict(list)
    for item in collected_items:
        by_module[item.nodeid.split("::")[0]].append(item)
    if not {*STARTS_SOMETHING_SLOW, *FAST}.issubset(by_module):
        pytest.skip("collect the whole suite (e.g. `uv run pytest -m 'not slow'`) to check the tiers")
    in_fast_tier = [
        f"{item.nodeid} (starts {what})"
        for module, what in STARTS_SOMETHING_SLOW.items()
        for item in by_module[module]
        if not is_slow(item)
    ]
    assert in_fast_tier == [], "in the fast tier:\n" + "\n".join(in_fast_tier)
    assert [item.nodeid for module in FAST for item in by_module[module] if is_slow(item)] == []
