"""Which launcher runs the transform job: a profile setting, nothing else.

`local` runs spark-submit here (`local.py`), `compose` hands the job to the Glue 4 container (`compose.py`), `aws`
runs it on AWS Glue (`glue.py`); the job's contract with all three is `job_contract.py`.
"""

from __future__ import annotations

from typing import Any

from ecom_pipeline.aws import make_glue_client, make_s3_client
from ecom_pipeline.settings import Profile, Settings
from ecom_pipeline.transform.compose import ComposeLauncher
from ecom_pipeline.transform.glue import GlueLauncher
from ecom_pipeline.transform.job_contract import TransformLauncher
from ecom_pipeline.transform.local import LocalSparkLauncher


def make_launcher(settings: Settings, *, s3_client: Any = None, glue_client: Any = None) -> TransformLauncher:
    """The launcher for `settings.profile`."""
    if settings.profile == Profile.LOCAL:
        return LocalSparkLauncher(settings, s3_client=s3_client)
    if settings.profile == Profile.COMPOSE:
        return ComposeLauncher(settings, s3_client=s3_client)
    return GlueLauncher(
        settings,
        glue_client=glue_client or make_glue_client(settings.storage),
        s3_client=s3_client or make_s3_client(settings.storage),
    )
