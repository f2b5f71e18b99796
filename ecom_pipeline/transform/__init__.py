"""The transform stage: launch spark_jobs/orders_job.py locally, in the Glue container, or on AWS Glue."""

from ecom_pipeline.transform.glue import GlueLauncher
from ecom_pipeline.transform.launchers import (
    ComposeLauncher,
    JobRequest,
    LocalSparkLauncher,
    TransformLauncher,
    make_launcher,
)

__all__ = [
    "ComposeLauncher",
    "GlueLauncher",
    "JobRequest",
    "LocalSparkLauncher",
    "TransformLauncher",
    "make_launcher",
]
