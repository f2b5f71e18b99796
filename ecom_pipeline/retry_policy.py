"""Who retries what, and how often: every retry budget of the pipeline, named once.

Each failure kind has exactly one layer that retries it; an error that leaves its layer after the budget is spent
is not transient (`ecom_pipeline/exceptions.py`), so no outer layer multiplies the budget.

- a source page: the HTTP client (`extract/client.py`) retries a reset, a timeout, 429 (honouring `Retry-After`)
  and 5xx, `SOURCE_PAGE`: 8 attempts, backoff from 0.5 s doubling to 30 s, about 62 s of patience;
- the first contact with the source: the HTTP client again, but a refused connection, a DNS failure or a connect
  timeout before the source ever answered gets `SOURCE_FIRST_CONTACT`: 2 attempts, 5 s connect timeout, under 15 s;
- an S3 or Glue API call: botocore (`aws.py`), throttling, 5xx and connection errors, `AWS_API_ATTEMPTS` (5),
  standard mode;
- a Snowflake request: the connector's own network retries within `login_timeout` / `network_timeout`;
- a task: Prefect (`flows/pipeline.py`), only errors that say `transient`, `TASK_RETRIES`.

A 4xx, a malformed body, bad settings, a failed reconciliation or the Spark job's balance check is never retried
by any layer. So "how many times is one page fetched before we give up?" is `SOURCE_PAGE.attempts` (8), and an
unreachable source fails within `SOURCE_FIRST_CONTACT` (2 attempts).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Attempts and exponential backoff (initial wait, doubling, capped) of one retry layer."""

    attempts: int
    initial_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class TaskRetry:
    """Prefect task retries: how many, and the delays between them (seconds)."""

    retries: int
    delay_seconds: tuple[float, ...]


SOURCE_PAGE = Backoff(attempts=8, initial_seconds=0.5, max_seconds=30.0)
SOURCE_FIRST_CONTACT = Backoff(attempts=2, initial_seconds=0.5, max_seconds=0.5)
SOURCE_FIRST_CONTACT_CONNECT_TIMEOUT_SECONDS = 5.0
AWS_API_ATTEMPTS = 5

# Task retries catch transient errors that no inner layer retries: a Spark process that died or timed out, a Glue
# capacity error, a Snowflake statement aborted by a conflict, a fault injected on purpose (flows/faults.py).
TASK_RETRIES: dict[str, TaskRetry] = {
    "fetch-and-land": TaskRetry(retries=2, delay_seconds=(2.0, 4.0)),
    "transform": TaskRetry(retries=1, delay_seconds=(10.0,)),
    "snowflake-load": TaskRetry(retries=2, delay_seconds=(5.0, 10.0)),
    "report": TaskRetry(retries=1, delay_seconds=(2.0,)),
}
