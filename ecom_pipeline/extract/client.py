"""HTTP client for the DummyJSON API: pooled session, rate limit, one retry policy, concurrent paging."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from ecom_pipeline.exceptions import SourceError, TransientSourceError
from ecom_pipeline.extract.models import validate_record
from ecom_pipeline.extract.pagination import OffsetPaginator
from ecom_pipeline.extract.ratelimit import RateLimiter
from ecom_pipeline.extract.sanitize import sanitize
from ecom_pipeline.settings import ApiSettings

PROGRESS_EVERY_SECONDS = 10.0
logger = logging.getLogger("ecom_pipeline.extract")

# Failures while sending or reading: a reset or refused connection, a timeout, a body cut short (urllib3's
# IncompleteRead/ProtocolError surface as ChunkedEncodingError or ConnectionError; a cut gzip stream as
# ContentDecodingError).
_TRANSIENT_IO_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class Page:
    """One answer of `GET /<resource>?limit=&skip=`: its items in source order and the `total` it reported."""

    resource: str
    number: int
    skip: int
    items: list[Any]
    total: int
    url: str


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


class _RetryAfterOrBackoff(wait_base):
    """Wait what a 429/503 `Retry-After` asks for, else exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        # Exponential growth plus up to one initial step of random jitter, so parallel retries spread out.
        self._backoff = wait_exponential(multiplier=initial, max=maximum) + wait_random(0, initial)

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, TransientSourceError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(retry_state)


def _retry_after_seconds(header: str | None) -> float | None:
    """Parse `Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DummyJsonClient:
    """Reads DummyJSON-style resources page by page; use as a context manager so the session is closed."""

    def __init__(self, api: ApiSettings, *, rate_limiter: RateLimiter | None = None) -> None:
        self.api = api
        self.base_url = api.base_url.rstrip("/")
        self.rate_limiter = rate_limiter or RateLimiter(api.rate_limit_per_second)
        self._timeout = (api.timeout_seconds, api.timeout_seconds)  # (connect, read)
        self._session = requests.Session()
        # urllib3 must not retry on its own (max_retries=0): every retry goes through `fetch_page`'s policy.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(api.concurrency, 1), max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"Accept": "application/json", "User-Agent": "ecom-pipeline/0.1"})
        self._retries = 0
        self._retries_lock = threading.Lock()

    def __enter__(self) -> DummyJsonClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    @property
    def retries(self) -> int:
        """Retries made so far by this client (all resources)."""
        return self._retries

    def resource_url(self, resource: str) -> str:
        """The endpoint of one resource, e.g. `http://127.0.0.1:8000/carts`."""
        return f"{self.base_url}/{resource}"

    def fetch_page(self, resource: str, skip: int, limit: int, page_number: int) -> dict[str, Any]:
        """GET one page and return its checked JSON; transient failures are retried up to `max_attempts`.

        Raises:
            SourceError: a 4xx answer, or a body that is not the expected JSON shape (not retried).
            TransientSourceError: still failing after `api.max_attempts` attempts.
        """
        url = f"{self.resource_url(resource)}?limit={limit}&skip={skip}"
        retrying = Retrying(
            stop=stop_after_attempt(self.api.max_attempts),
            wait=_RetryAfterOrBackoff(self.api.backoff_initial_seconds, self.api.backoff_max_seconds),
            retry=retry_if_exception_type(TransientSourceError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._request_page, resource, url, page_number)
        except TransientSourceError as error:
            where = f"resource '{resource}', page {page_number}"
            message = f"{where}: gave up after {self.api.max_attempts} attempts: {error}"
            raise TransientSourceError(message, retry_after=error.retry_after) from error

    def _request_page(self, resource: str, url: str, page_number: int) -> dict[str, Any]:
        """One attempt: wait for the rate limiter, GET, classify the outcome."""
        self.rate_limiter.acquire()
        try:
            response = self._session.get(url, timeout=self._timeout)  # not streamed: reads the whole body
        except _TRANSIENT_IO_ERRORS as error:
            raise TransientSourceError(f"{type(error).__name__} on {url}: {error}") from error
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientSourceError(f"HTTP {status} on {url}", retry_after=retry_after)
        if status != 200:
            raise SourceError(resource, page_number, None, f"HTTP {status} on {url}: {_message_of(response)}")
        try:
            document = json.loads(response.content.decode("utf-8"), parse_constant=_reject_constant)
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            snippet = response.content[:80].decode("utf-8", errors="replace")
            content_type = response.headers.get("Content-Type", "no Content-Type")
            problem = f"response is not JSON ({content_type}): {snippet!r}"
            raise SourceError(resource, page_number, "body", problem) from error
        _check_page_shape(resource, page_number, document)
        return document

    def _log_retry(self, retry_state: RetryCallState) -> None:
        with self._retries_lock:
            self._retries += 1
        resource, _url, page_number = retry_state.args
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "retrying %s page %d in %.2fs (attempt %d/%d failed): %s",
            resource, page_number, wait, retry_state.attempt_number, self.api.max_attempts, error,
        )  # fmt: skip

    def _page(self, resource: str, number: int, params: dict[str, Any]) -> Page:
        document = self.fetch_page(resource, params["skip"], params["limit"], number)
        url = f"{self.resource_url(resource)}?limit={params['limit']}&skip={params['skip']}"
        page = Page(resource, number, params["skip"], document[resource], document["total"], url)
        logger.debug("fetched %s page %d: skip=%d, %d items", resource, number, page.skip, len(page.items))
        return page

    def iter_pages(self, resource: str) -> Iterator[Page]:
        """Yield every page of `resource` in order: the first alone (to learn `total`), the rest concurrently.

        At most `api.concurrency` requests are in flight and at most that many finished pages wait in memory,
        so a million cart lines stream through. Raises SourceError when the items received differ from
        `total`.
        """
        started, retries_before = time.monotonic(), self._retries
        paginator = OffsetPaginator(self.api.page_size)
        params: dict[str, Any] = {}
        paginator.init_request(params)
        first = self._page(resource, 1, params)
        expected_total, received, pages = first.total, len(first.items), 1
        paginator.update_state({"total": first.total}, first.items)
        yield first

        window: deque[Future[Page]] = deque()
        planned = paginator.planned_requests()
        next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
        pool = ThreadPoolExecutor(max_workers=self.api.concurrency, thread_name_prefix=f"extract-{resource}")
        try:

            def refill() -> None:
                while len(window) < self.api.concurrency and (next_params := next(planned, None)) is not None:
                    window.append(pool.submit(self._page, resource, pages + len(window) + 1, next_params))

            refill()
            while paginator.has_next_page and window:
                page = window.popleft().result()
                if page.total != expected_total:
                    problem = f"changed from {expected_total} to {page.total} during extraction"
                    raise SourceError(resource, page.number, "total", problem)
                if page.skip != paginator.skip:
                    problem = f"an earlier page came back short: expected skip {paginator.skip}, got {page.skip}"
                    raise SourceError(resource, page.number, resource, problem)
                paginator.update_state({"total": page.total}, page.items)
                received, pages = received + len(page.items), pages + 1
                if time.monotonic() >= next_progress:  # long extractions show progress, not silence
                    next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
                    share = received / expected_total if expected_total else 1.0
                    logger.info(
                        "%s: %d/%d items (%.0f%%), %d pages", resource, received, expected_total, 100 * share, pages
                    )
                refill()  # keep the workers busy while the caller handles this page
                yield page
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

        if received != expected_total:
            problem = f"received {received} items in {pages} pages, but the source reported {expected_total}"
            raise SourceError(resource, None, "total", problem)
        logger.info(
            "extracted %s: %d items in %d pages, %d retries, %.2fs",
            resource, received, pages, self._retries - retries_before, time.monotonic() - started,
        )  # fmt: skip


def _message_of(response: requests.Response) -> str:
    """The `message` of a DummyJSON error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]


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


def extract_records(client: DummyJsonClient, resource: str) -> Iterator[ExtractedRecord]:
    """Yield every item of `resource` sanitized, flagged with a reason when it breaks a rule (order kept)."""
    valid = quarantined = 0
    for page in client.iter_pages(resource):
        for item in page.items:
            if not isinstance(item, dict):
                # The item itself is not stored: it could be anything, and there are no fields to allow-list.
                reason = f"record: expected an object, got {type(item).__name__}"
                yield ExtractedRecord(resource, page.number, None, reason)
                quarantined += 1
                continue
            record = sanitize(resource, item)
            reason = validate_record(resource, record)
            valid, quarantined = (valid + 1, quarantined) if reason is None else (valid, quarantined + 1)
            yield ExtractedRecord(resource, page.number, record, reason)
    logger.info("validated %s: %d valid, %d quarantined", resource, valid, quarantined)
