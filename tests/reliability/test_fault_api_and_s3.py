"""API faults on 20% of requests and an S3 outage mid-landing, in one flow run: the warehouse still matches the
fault-free result to the cent (the expected orders come from the independent oracle)."""

from __future__ import annotations

from collections import Counter

from reliability_support import FaultyRun, totals

from ecom_local.api.faults import FAULT_KINDS


def test_the_warehouse_equals_the_fault_free_result(faulty_api_run: FaultyRun, expected_warehouse) -> None:
    assert faulty_api_run.state.is_completed(), faulty_api_run.state.message
    assert totals(faulty_api_run.orders) == totals(expected_warehouse)
    assert faulty_api_run.orders == expected_warehouse  # every order: quantity, revenue, profit to the cent
    assert faulty_api_run.summary.transform.rows_written == len(expected_warehouse)


def test_every_api_fault_kind_really_happened_on_a_fifth_of_requests(faulty_api_run: FaultyRun) -> None:
    plan, requests = faulty_api_run.fault_plan, faulty_api_run.api_requests
    served = Counter(plan.pick(number) for number in range(requests))
    assert set(served) - {None} == set(FAULT_KINDS)
    faulted = requests - served[None]
    assert requests > 14 and faulted > 0  # 14 pages were needed; each fault cost a retry
    # The HTTP client retried each one, and its log names every kind of failure.
    retried_in_client = [line for line in faulty_api_run.log_lines if line.startswith("retrying ")]
    assert len(retried_in_client) >= faulted
    for kind_marker in ("HTTP 500", "HTTP 429", "Timeout", "RemoteProtocolError"):
        assert any(kind_marker in line for line in retried_in_client), kind_marker


def test_s3_was_stopped_mid_landing_and_restarted_on_the_same_endpoint(faulty_api_run: FaultyRun) -> None:
    outage = faulty_api_run.outage
    assert outage.stopped_during is not None, "the raw zone was never caught between a part and its manifest"
    _resource, parts_then = outage.stopped_during
    assert parts_then  # some parts written, the manifest not yet: the stop hit a landing in progress
    assert outage.restarted_same_endpoint
    assert {name: landed.records for name, landed in faulty_api_run.summary.resources.items()} == {
        "users": 208,
        "products": 194,
        "carts": 208,
    }


def test_the_raw_zone_holds_one_committed_run_per_resource(faulty_api_run: FaultyRun) -> None:
    raw_keys = [key for key in faulty_api_run.objects if key.startswith("raw-")]
    for resource in ("users", "products", "carts"):
        run_folders = {
            key.split("/run_id=")[1].split("/")[0] for key in raw_keys if f"/{resource}/" in key and "/run_id=" in key
        }
        assert len(run_folders) == 1, (resource, run_folders)  # partial attempts were cleaned up
