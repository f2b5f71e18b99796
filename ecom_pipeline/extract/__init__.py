"""Extract stage: read the DummyJSON-style API politely, sanitize every record, flag the invalid ones."""

from ecom_pipeline.extract.client import DummyJsonClient, ExtractedRecord, Page, extract_records
from ecom_pipeline.extract.models import validate_record
from ecom_pipeline.extract.pagination import OffsetPaginator
from ecom_pipeline.extract.ratelimit import RateLimiter
from ecom_pipeline.extract.sanitize import ALLOWED_FIELDS, sanitize

__all__ = [
    "ALLOWED_FIELDS",
    "DummyJsonClient",
    "ExtractedRecord",
    "OffsetPaginator",
    "Page",
    "RateLimiter",
    "extract_records",
    "sanitize",
    "validate_record",
]
