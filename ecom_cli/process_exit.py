"""A command's exit without Python's last garbage collection, which only costs time once the work is done."""

from __future__ import annotations

import atexit
import gc


def skip_last_collection() -> None:
    """At exit, keep every object out of Python's last garbage collection: the OS frees the process's memory anyway.

    That collection walks every object of every module a run imported (Prefect, boto3, the Snowflake connector, ...):
    about 1 s on 2 cores. Call it before Prefect is imported: exit handlers run last-registered first, so Prefect's
    (which send the run's last logs and events) and every later one run before it.
    """
    atexit.register(gc.freeze)
