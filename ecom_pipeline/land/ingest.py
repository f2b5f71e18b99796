"""Fetch one resource from the source API and land it in the S3 raw zone, streaming page by page."""

from __future__ import annotations

from collections.abc import Iterable

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.extract.client import DummyJsonClient
from ecom_pipeline.land.landing import LandingResult, land_pages
from ecom_pipeline.settings import Settings


def ingest_resource(settings: Settings, resource: str, run_id: str) -> LandingResult:
    """Stream `resource` from the API into the raw zone for `settings.run_date`; return what was landed.

    Chunks of pages whose bytes are unchanged since the committed run of that day are reused, not landed again.
    """
    s3_client = make_s3_client(settings.storage)
    with DummyJsonClient(settings.api) as client:
        return land_pages(
            client.page_stream(resource),
            s3_client=s3_client,
            storage=settings.storage,
            ingest_date=settings.run_date,
            run_id=run_id,
        )


def check_source(settings: Settings, resources: Iterable[str]) -> None:
    """Ask the source for one item of each resource, so a wrong URL or a missing endpoint fails in seconds.

    Run before the emulators and Prefect start (they take half a minute): a typo'd `--api-url` or a source without
    `/carts` is reported at once, with no retry that cannot help.

    Raises:
        SourceUnavailableError: nothing answers at the URL (after the first-contact budget, retry_policy.py).
        SourceError: the source answers 4xx for a resource (e.g. 404 for `/carts`).
    """
    with DummyJsonClient(settings.api) as client:
        for resource in resources:
            client.fetch_page(resource, skip=0, limit=1, page_number=1)
