"""Extract stage: read the DummyJSON-style API politely, sanitize every record, flag the invalid ones."""

from ecom_pipeline.extract.client import DummyJsonClient
from ecom_pipeline.extract.models import validate_record
from ecom_pipeline.extract.pages import ExtractedRecord, Page, PageStream, page_records
from ecom_pipeline.extract.ratelimit import RateLimiter
from ecom_pipeline.extract.sanitize import ALLOWED_FIELDS, sanitize

__all__ = [
    "ALLOWED_FIELDS",
    "DummyJsonClient",
    "ExtractedRecord",
    "Page",
    "PageStream",
    "RateLimiter",
    "page_records",
    "sanitize",
    "validate_record",
]
