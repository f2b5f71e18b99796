"""Offset pagination as one small strategy object, after dlt's REST client paginators."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class OffsetPaginator:
    """DummyJSON's `skip`/`limit` paging: stop when `skip + returned >= total` or a page comes back empty.

    The client drives it: `init_request` fills the first request, `update_state` reads every page in order,
    `planned_requests` names the pages still to come (the client fetches ahead) and `has_next_page` says when
    to stop. A page size of 0 asks the server for everything in one request (`limit=0`).
    """

    def __init__(self, limit: int, *, skip: int = 0) -> None:
        if limit < 0 or skip < 0:
            raise ValueError(f"limit and skip must be >= 0, got limit={limit}, skip={skip}")
        self.limit = limit
        self.skip = skip
        self.total: int | None = None
        self.has_next_page = True

    def init_request(self, params: dict[str, Any]) -> None:
        """Set the first page's parameters."""
        params["skip"] = self.skip
        params["limit"] = self.limit

    def update_state(self, response_json: Mapping[str, Any], items: list[Any]) -> None:
        """Advance past one page: remember `total`, move `skip` by what came back, decide whether to go on."""
        total = response_json["total"]
        if self.total is None and self.limit and 0 < len(items) < self.limit and len(items) < total:
            # The server capped the page below what we asked for: follow its page size from here on.
            self.limit = len(items)
        self.total = total
        self.skip += len(items)
        # limit=0 means "all in one page"; an empty page ends the walk even when `total` promises more,
        # so a shrinking source cannot make us loop forever (the client then reports the shortfall).
        self.has_next_page = self.limit != 0 and len(items) > 0 and self.skip < total

    def planned_requests(self) -> Iterator[dict[str, Any]]:
        """Parameters of the pages still to come if every page is full, so a client may fetch ahead.

        Only meaningful after the first `update_state`; the client still feeds every page to `update_state`
        and stops on `has_next_page`, so a plan that overshoots is simply abandoned.
        """
        if self.total is None or not self.has_next_page:
            return
        skip = self.skip
        while skip < self.total:
            yield {"skip": skip, "limit": self.limit}
            skip += self.limit
