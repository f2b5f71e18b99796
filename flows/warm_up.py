"""What the load and the report need that does not depend on the Spark job, done while the job runs.

The job takes from seconds (a dev-loop run) to minutes, and the flow only waits for it. Meanwhile a thread sets up
the emulator's warehouse (one query when it is in place, ecom_pipeline/warehouse/setup_state.py) and imports what the
load and the report use: the Snowflake connector, sqlglot (the emulator adapter's MERGE rewrite) and matplotlib (the
charts). Neither then waits for them after the job.
This is only a head start: the load sets the warehouse up again if need be and reports any error itself, so a
failure here is logged and nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Iterator

from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.charts import pyplot
from ecom_pipeline.warehouse.setup_state import set_up_emulator_warehouse

logger = logging.getLogger("ecom_pipeline.warehouse")

BACKGROUND_NICENESS = 10  # of 19: well below the job, still scheduled


def prepare_load_and_report(settings: Settings) -> None:
    """Set up the emulator's warehouse and import the load's and the report's libraries."""
    _yield_to_the_job()
    try:
        if settings.snowflake.emulator:
            importlib.import_module("sqlglot")
            logger.info("warehouse emulator, while the job runs: %s", set_up_emulator_warehouse(settings))
        else:
            importlib.import_module("snowflake.connector")
        pyplot()
    except Exception as error:  # the load and the report do all of it again, and raise what they meet
        logger.warning("preparing the load while the job runs failed (the load retries it): %s", error)


def _yield_to_the_job() -> None:
    """Lower this thread's CPU priority (Linux schedules threads one by one): on few cores the job, starting its JVM,
    gets the CPU first, and this thread uses what the job leaves."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: the usual priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


@contextlib.contextmanager
def warm_up_for_load(settings: Settings) -> Iterator[None]:
    """Run `prepare_load_and_report` beside the block; wait for it when the block ends."""
    thread = threading.Thread(target=prepare_load_and_report, args=(settings,), name="prepare-load", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
