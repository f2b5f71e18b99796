"""Pages of a DummyJSON-style resource: the raw body and its digest, the walk that checks them, their records.

A page keeps its raw body and its sha256; its JSON is parsed on first use, so a consumer that recognises a page
it has landed before (by digest) never pays for parsing it. `PageStream` walks a resource's pages in order with
`api.concurrency` requests in flight, and checks that they add up to the `total` the source reported.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from ecom_pipeline.exceptions import SourceError
from ecom_pipeline.extract.models import validate_record
from ecom_pipeline.extract.sanitize import sanitize
from ecom_pipeline.settings import ApiSettings

PROGRESS_EVERY_SECONDS = 10.0
logger = logging.getLogger("ecom_pipeline.extract")


@dataclass(frozen=True)
class Page:
    """One answer of `GET /<resource>?limit=&skip=`: its raw body and sha256; the JSON is parsed on first use.

    The body still holds the fields sanitizing drops (passwords, bank data, ...): it is never logged or written
    anywhere; only one-way digests of it are stored (a chunk's `source_sha256` in the manifest).
    """

    resource: str
    number: int
    skip: int
    url: str
    body: bytes = field(repr=False)
    sha256: str
    content_type: str

    @cached_property
    def document(self) -> dict[str, Any]:
        """The body as `{"<resource>": [...], "total": n, ...}`; SourceError (naming the field) when it is not."""
        try:
            document = json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant)
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            snippet = self.body[:80].decode("utf-8", errors="replace")
            problem = f"response is not JSON ({self.content_type}): {snippet!r}"
            raise SourceError(self.resource, self.number, "body", problem) from error
        _check_page_shape(self.resource, self.number, document)
        return document

    @property
    def items(self) -> list[Any]:
        """The page's items in source order."""
        return self.document[self.resource]

    @property
    def total(self) -> int:
        """The `total` the source reported with this page."""
        return self.document["total"]


@dataclass(frozen=True)
class ExtractedRecord:
    """One source item after sanitizing: valid (`reason` None) or quarantined with a reason."""

    resource: str
    page: int
    record: dict[str, Any] | None
    reason: str | None = None

    @property
    def quarantined(self) -> bool:
        """True when the record broke a rule and goes to the quarantine parts."""
        return self.reason is not None


class PageSource(Protocol):
    """What a `PageStream` fetches through: `DummyJsonClient` (client.py, which builds streams from this module)."""

    @property
    def api(self) -> ApiSettings: ...

    @property
    def retries(self) -> int: ...

    def resource_url(self, resource: str) -> str: ...

    def fetch_page(self, resource: str, skip: int, limit: int, page_number: int) -> Page: ...


class PageStream:
    """Every page of one resource in order: the first is parsed at once (to learn `total`), the rest when read.

    Once `total` is known the plan is a range of offsets: `skip` = `n`, `n + step`, ... below `total`, where `n` is
    what the first page held and `step` the page size (or the smaller size a server caps pages at). At most
    `api.concurrency` requests are in flight and at most that many fetched pages wait, so a million cart lines
    stream through. The consumer hands every page back once, in order: `count(page)` parses it and checks that it
    continues the walk, `count_unparsed(pages, items)` accounts for pages byte-identical to pages an earlier run
    checked without parsing them, and `finish()` checks that the items counted equal `total`.
    """

    def __init__(self, source: PageSource, resource: str) -> None:
        self.source, self.resource = source, resource
        self.url, self.page_size = source.resource_url(resource), source.api.page_size
        self._started, self._retries_before = time.monotonic(), source.retries
        self.first = source.fetch_page(resource, 0, self.page_size, 1)  # page size 0 asks for everything at once
        self.total, served = self.first.total, len(self.first.items)
        # A server that caps pages below what we asked for sets the step from here on.
        self._step = served if 0 < served < min(self.page_size, self.total) else self.page_size
        self._received = self._pages = 0
        self._ended = False
        self._next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
        self._advance(self.first, served)
        self._offsets = range(0) if self._ended else range(served, self.total, self._step)

    def __iter__(self) -> Iterator[Page]:
        """Yield the first page, then the planned ones; stop early once a page counted ends the walk."""
        yield self.first
        concurrency = self.source.api.concurrency
        planned = enumerate(self._offsets, start=2)
        window: deque[Future[Page]] = deque()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"extract-{self.resource}")
        try:

            def refill() -> None:
                for number, skip in itertools.islice(planned, concurrency - len(window)):
                    window.append(pool.submit(self.source.fetch_page, self.resource, skip, self._step, number))

            refill()
            while window and not self._ended:
                page = window.popleft().result()
                refill()  # keep the workers busy while the consumer handles this page
                yield page
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def count(self, page: Page) -> None:
        """Parse `page` and check that it continues the walk: the same `total`, starting where the last one ended."""
        if page is self.first:
            return  # counted when the stream opened
        if page.total != self.total:
            problem = f"changed from {self.total} to {page.total} during extraction"
            raise SourceError(self.resource, page.number, "total", problem)
        self._advance(page, len(page.items))

    def count_unparsed(self, pages: Sequence[Page], items: int) -> bool:
        """Count `pages` unparsed when they held `items` items as full pages do; False (nothing counted) if not.

        For pages byte-identical to pages an earlier run parsed and checked: there every page but the last was
        full, so only how many items they held is needed. On False, parse and `count` them instead.
        """
        held = [len(page.items) if page is self.first else self._full_page_items(page) for page in pages]
        if sum(held) != items:
            return False
        for page, page_items in zip(pages, held, strict=True):
            if page is not self.first:
                self._advance(page, page_items)
        return True

    def finish(self) -> None:
        """Raise SourceError unless the pages counted held `total` items; log what was extracted."""
        if self._received != self.total:
            problem = f"received {self._received} items in {self._pages} pages, but the source reported {self.total}"
            raise SourceError(self.resource, None, "total", problem)
        logger.info(
            "extracted %s: %d items in %d pages, %d retries, %.2fs", self.resource, self._received, self._pages,
            self.source.retries - self._retries_before, time.monotonic() - self._started,
        )  # fmt: skip

    def _full_page_items(self, page: Page) -> int:
        """Items `page` holds when full: one step, or what is left of `total`."""
        return min(self._step or self.total, self.total - page.skip)

    def _advance(self, page: Page, items: int) -> None:
        """Check that `page` starts where the previous page ended, then move the walk past its `items`."""
        if page.skip != self._received:
            problem = f"an earlier page came back short: expected skip {self._received}, got {page.skip}"
            raise SourceError(self.resource, page.number, self.resource, problem)
        self._received, self._pages = self._received + items, self._pages + 1
        # An empty page ends the walk even when `total` promises more, so a shrinking source cannot make us loop
        # (`finish` then reports the shortfall); page size 0 means everything came in the first page.
        self._ended = not (self._step and items and self._received < self.total)
        if time.monotonic() >= self._next_progress:  # long extractions show progress, not silence
            self._next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
            share = self._received / self.total if self.total else 1.0
            logger.info(
                "%s: %d/%d items (%.0f%%), %d pages",
                self.resource,
                self._received,
                self.total,
                100 * share,
                self._pages,
            )


def page_records(page: Page) -> Iterator[ExtractedRecord]:
    """Yield the items of one page sanitized, flagged with a reason when they break a rule (order kept)."""
    for item in page.items:
        if not isinstance(item, dict):
            # The item itself is not stored: it could be anything, and there are no fields to allow-list.
            reason = f"record: expected an object, got {type(item).__name__}"
            yield ExtractedRecord(page.resource, page.number, None, reason)
            continue
        record = sanitize(page.resource, item)
        yield ExtractedRecord(page.resource, page.number, record, validate_record(page.resource, record))


def _check_page_shape(resource: str, page_number: int, document: Any) -> None:
    """Raise SourceError unless `document` is `{"<resource>": [...], "total": <int>, ...}`."""
    if not isinstance(document, dict):
        problem = f"expected a JSON object, got {type(document).__name__}"
        raise SourceError(resource, page_number, "body", problem)
    keys = f"the response has keys {sorted(document)}"
    if "total" not in document:
        raise SourceError(resource, page_number, "total", f"missing; {keys}")
    total = document["total"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise SourceError(resource, page_number, "total", f"expected a non-negative integer, got {total!r}")
    if resource not in document:
        raise SourceError(resource, page_number, resource, f"missing; {keys}")
    if not isinstance(document[resource], list):
        problem = f"expected a list of items, got {type(document[resource]).__name__}"
        raise SourceError(resource, page_number, resource, problem)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
