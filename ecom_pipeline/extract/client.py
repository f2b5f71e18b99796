"""HTTP client for the DummyJSON API: pooled httpx connections, rate limit, one retry policy per page (retry_policy.py).

What a page is, and the ordered walk over a resource's pages, are in `pages.py`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from ecom_pipeline.exceptions import SourceError, SourceUnavailableError, TransientSourceError
from ecom_pipeline.extract.pages import Page, PageStream
from ecom_pipeline.extract.ratelimit import RateLimiter
from ecom_pipeline.retry_policy import SOURCE_FIRST_CONTACT, SOURCE_FIRST_CONTACT_CONNECT_TIMEOUT_SECONDS
from ecom_pipeline.settings import ApiSettings

logger = logging.getLogger("ecom_pipeline.extract")

# Failures while sending or reading: a refused or reset connection, a DNS failure, a timeout, a body cut short
# (the server closed before `Content-Length`), a cut gzip stream. An invalid URL or scheme is not among them.
_TRANSIENT_IO_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.DecodingError)


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


class DummyJsonClient:
    """Reads DummyJSON-style resources page by page; use as a context manager so the connections are closed."""

    def __init__(self, api: ApiSettings, *, rate_limiter: RateLimiter | None = None) -> None:
        self.api = api
        self.base_url = api.base_url.rstrip("/")
        self.rate_limiter = rate_limiter or RateLimiter(api.rate_limit_per_second)
        # httpx never retries on its own (its transport's `retries` defaults to 0): every retry is `fetch_page`'s.
        self._http = httpx.Client(
            headers={"Accept": "application/json", "User-Agent": "ecom-pipeline/0.1"},
            limits=httpx.Limits(max_keepalive_connections=api.concurrency),
        )
        self._retries = 0
        self._retries_lock = threading.Lock()
        # Until the source has answered once, a refused connection, a DNS failure or a connect timeout most likely
        # means a wrong URL: SOURCE_FIRST_CONTACT applies, not the whole page budget (retry_policy.py).
        self._answered = threading.Event()

    def __enter__(self) -> DummyJsonClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    @property
    def retries(self) -> int:
        """Retries made so far by this client (all resources)."""
        return self._retries

    def resource_url(self, resource: str) -> str:
        """The endpoint of one resource, e.g. `http://127.0.0.1:8000/carts`."""
        return f"{self.base_url}/{resource}"

    def page_stream(self, resource: str) -> PageStream:
        """The pages of `resource` in order, parsed only when read (fetches and parses the first page now)."""
        return PageStream(self, resource)

    def fetch_page(self, resource: str, skip: int, limit: int, page_number: int) -> Page:
        """GET one page, keeping its body unparsed; transient failures are retried up to `max_attempts`.

        Raises:
            SourceError: a 4xx answer (not retried; a body of the wrong shape is reported when the page is read).
            SourceUnavailableError: the source was never reachable (after `SOURCE_FIRST_CONTACT`), or the page
                still failed after `api.max_attempts` attempts. Final: the budget is spent.
        """
        url = f"{self.resource_url(resource)}?limit={limit}&skip={skip}"
        retrying = Retrying(
            stop=stop_after_attempt(self.api.max_attempts) | self._stop_unreachable,
            wait=_RetryAfterOrBackoff(self.api.backoff_initial_seconds, self.api.backoff_max_seconds),
            retry=retry_if_exception_type(TransientSourceError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            response = retrying(self._request_page, resource, url, page_number)
        except TransientSourceError as error:
            if not self._answered.is_set():
                raise SourceUnavailableError(
                    f"cannot reach the source API at {self.base_url} (resource '{resource}'): {_one_line(error)}; "
                    "check ECOM_API_BASE_URL / --api-url"
                ) from error
            where = f"resource '{resource}', page {page_number}"
            message = f"{where}: gave up after {self.api.max_attempts} attempts: {error}"
            raise SourceUnavailableError(message) from error
        body = response.content
        content_type = response.headers.get("Content-Type", "no Content-Type")
        logger.debug("fetched %s page %d: skip=%d, %d bytes", resource, page_number, skip, len(body))
        return Page(resource, page_number, skip, url, body, hashlib.sha256(body).hexdigest(), content_type)

    def _request_page(self, resource: str, url: str, page_number: int) -> httpx.Response:
        """One attempt: wait for the rate limiter, GET (reading the whole body), classify the outcome."""
        self.rate_limiter.acquire()
        connect = self.api.timeout_seconds
        if not self._answered.is_set():
            connect = min(connect, SOURCE_FIRST_CONTACT_CONNECT_TIMEOUT_SECONDS)
        try:
            response = self._http.get(url, timeout=httpx.Timeout(self.api.timeout_seconds, connect=connect))
        except _TRANSIENT_IO_ERRORS as error:
            raise TransientSourceError(f"{type(error).__name__} on {url}: {_one_line(error)}") from error
        self._answered.set()
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientSourceError(f"HTTP {status} on {url}", retry_after=retry_after)
        if status != 200:
            raise SourceError(resource, page_number, None, f"HTTP {status} on {url}: {_message_of(response)}")
        return response

    def _stop_unreachable(self, retry_state: RetryCallState) -> bool:
        """Stop early while the source has never answered: a wrong URL should fail in seconds, not minutes."""
        return not self._answered.is_set() and retry_state.attempt_number >= SOURCE_FIRST_CONTACT.attempts

    def _log_retry(self, retry_state: RetryCallState) -> None:
        with self._retries_lock:
            self._retries += 1
        resource, _url, page_number = retry_state.args
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        # Before the source ever answered, a failure is most likely a wrong URL: the final error says so in one
        # line; a source that answered and now fails is worth a warning per retry.
        answered = self._answered.is_set()
        budget = self.api.max_attempts if answered else min(self.api.max_attempts, SOURCE_FIRST_CONTACT.attempts)
        logger.log(
            logging.WARNING if answered else logging.DEBUG,
            "retrying %s page %d in %.2fs (attempt %d/%d failed): %s",
            resource, page_number, wait, retry_state.attempt_number, budget, error,
        )  # fmt: skip


def _one_line(error: BaseException) -> str:
    """The error's message on one line, e.g. `[Errno 111] Connection refused`."""
    return " ".join(str(error).split())[:300] or type(error).__name__


def _message_of(response: httpx.Response) -> str:
    """The `message` of a DummyJSON error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]
