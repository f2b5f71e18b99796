"""The transform stage: launch the orders job (spark_jobs/) locally, in the Glue container, or on AWS Glue."""

from ecom_pipeline.transform.compose import ComposeLauncher
from ecom_pipeline.transform.glue import GlueLauncher
from ecom_pipeline.transform.job_contract import JobRequest, TransformLauncher
from ecom_pipeline.transform.launchers import make_launcher
from ecom_pipeline.transform.local import LocalSparkLauncher

__all__ = [
    "ComposeLauncher",
    "GlueLauncher",
    "JobRequest",
    "LocalSparkLauncher",
    "TransformLauncher",
    "make_launcher",
]
