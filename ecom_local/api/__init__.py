"""The DummyJSON-compatible source: data sources (real files, seeded synthetic) and the API serving them."""

from ecom_local.api.data import DataSource, DirectorySource, UnknownResourceError
from ecom_local.api.faults import FaultPlan
from ecom_local.api.server import ApiServer, serve_forever
from ecom_local.api.synthetic import SyntheticSource

__all__ = [
    "ApiServer",
    "DataSource",
    "DirectorySource",
    "FaultPlan",
    "SyntheticSource",
    "UnknownResourceError",
    "serve_forever",
]
