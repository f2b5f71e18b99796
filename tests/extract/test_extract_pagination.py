"""The offset paginator walks DummyJSON's skip/limit pages and stops on what the pages say."""

from __future__ import annotations

from typing import Any

import pytest

from ecom_pipeline.extract.pagination import OffsetPaginator


def walk(paginator: OffsetPaginator, total: int, served: list[int] | None = None) -> list[dict[str, Any]]:
    """Drive the paginator like the client does against a fake page source; return the requests made."""
    params: dict[str, Any] = {}
    paginator.init_request(params)
    requests: list[dict[str, Any]] = []
    sizes = iter(served) if served is not None else None
    while True:
        requests.append(dict(params))
        if sizes is not None:
            returned = next(sizes)
        else:
            remaining = max(total - params["skip"], 0)
            returned = remaining if params["limit"] == 0 else min(params["limit"], remaining)
        paginator.update_state({"total": total}, [{}] * returned)
        if not paginator.has_next_page:
            return requests
        params = {"skip": paginator.skip, "limit": paginator.limit}  # where the client asks next
        assert len(requests) < 10_000, "paginator never stopped"


@pytest.mark.parametrize(
    ("limit", "total", "expected_skips"),
    [
        (30, 100, [0, 30, 60, 90]),
        (50, 100, [0, 50]),
        (1, 3, [0, 1, 2]),
        (100, 0, [0]),
        (7, 20, [0, 7, 14]),
    ],
)
def test_pages_follow_skip_until_total(limit: int, total: int, expected_skips: list[int]) -> None:
    requests = walk(OffsetPaginator(limit), total)
    assert [request["skip"] for request in requests] == expected_skips
    assert {request["limit"] for request in requests} == {limit}


def test_page_size_zero_asks_for_everything_once() -> None:
    paginator = OffsetPaginator(0)
    assert walk(paginator, 208) == [{"skip": 0, "limit": 0}]
    assert paginator.skip == 208


def test_an_empty_page_stops_even_when_total_promises_more() -> None:
    paginator = OffsetPaginator(10)
    requests = walk(paginator, total=50, served=[10, 0])
    assert len(requests) == 2
    assert paginator.skip == 10  # the client compares this with `total` and reports the shortfall


def test_a_server_that_caps_the_page_size_is_followed() -> None:
    paginator = OffsetPaginator(100)
    requests = walk(paginator, total=45, served=[20, 20, 5])
    assert [request["skip"] for request in requests] == [0, 20, 40]
    assert paginator.limit == 20


def test_planned_requests_cover_the_rest_after_the_first_page() -> None:
    paginator = OffsetPaginator(30)
    paginator.update_state({"total": 100}, [{}] * 30)
    assert list(paginator.planned_requests()) == [
        {"skip": 30, "limit": 30},
        {"skip": 60, "limit": 30},
        {"skip": 90, "limit": 30},
    ]


def test_no_plan_once_the_last_page_arrived() -> None:
    paginator = OffsetPaginator(0)
    paginator.update_state({"total": 5}, [{}] * 5)
    assert list(paginator.planned_requests()) == []


def test_negative_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="limit and skip must be >= 0"):
        OffsetPaginator(-1)
