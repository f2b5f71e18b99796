"""The DummyJSON-compatible source: data sources (real files, seeded synthetic) and the API serving them."""

from ecom_pipeline.source.data import DataSource, DirectorySource, UnknownResourceError
from ecom_pipeline.source.faults import FaultPlan
from ecom_pipeline.source.server import ApiServer, serve_forever
from ecom_pipeline.source.synthetic import SyntheticSource

__all__ = [
    "ApiServer",
    "DataSource",
    "DirectorySource",
    "FaultPlan",
    "SyntheticSource",
    "UnknownResourceError",
    "serve_forever",
]
