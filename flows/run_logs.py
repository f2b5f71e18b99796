"""Our stage loggers (`ecom_pipeline.*`) in the flow run's logs, whichever process runs the flow.

Prefect sends only its own run loggers to the API. `PREFECT_LOGGING_EXTRA_LOGGERS` attaches its API handler to
other loggers but leaves their level alone (prefect/logging/configuration.py, `setup_logging`), so ours
inherited the root logger's WARNING and no INFO line of extract, land, transform or warehouse arrived.
Doing it here, where the flow starts, works the same for the CLI run, a process worker and a docker worker,
and touches no other logger: Prefect's own and third-party loggers keep their levels.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from prefect.context import FlowRunContext, get_run_context
from prefect.exceptions import MissingContextError
from prefect.logging.handlers import APILogHandler

STAGE_LOGGER = "ecom_pipeline"


class StageLogHandler(APILogHandler):
    """Prefect's API log handler that also places records logged outside a run context.

    Our stages log from their own threads too (the extract pool, the Spark output reader, the lock renewer);
    Prefect's run context does not follow them there. While exactly one flow run is active in this process,
    such records belong to it; with several at once they cannot be placed and stay on the console only.
    """

    def __init__(self) -> None:
        super().__init__()
        self.active_runs: list[UUID] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Send `record` to the API, for the active flow run when it carries no run context of its own."""
        if getattr(record, "flow_run_id", None) is None and not _in_run_context():
            if len(self.active_runs) != 1:
                return
            record = copy.copy(record)  # the other handlers (the console) see the record unchanged
            record.flow_run_id = self.active_runs[0]
        super().emit(record)


def _in_run_context() -> bool:
    try:
        get_run_context()
    except MissingContextError:
        return False
    return True


_handler = StageLogHandler()
_lock = threading.Lock()
# What the first active run changed on the stage logger, restored when the last one ends.
_saved: dict[str, Any] = {}


@contextmanager
def stage_logs_to_flow_run() -> Iterator[None]:
    """While the current flow runs, send every INFO line of the `ecom_pipeline` loggers to its logs."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:  # not inside a flow run: nothing to attach the lines to
        yield
        return
    run_id = context.flow_run.id
    stage_logger = logging.getLogger(STAGE_LOGGER)
    with _lock:
        if not _handler.active_runs:
            # PREFECT_LOGGING_EXTRA_LOGGERS=ecom_pipeline attaches Prefect's handler as well: each line twice.
            _saved["handlers"] = [h for h in stage_logger.handlers if type(h) is APILogHandler]
            _saved["level"] = stage_logger.level
            for handler in _saved["handlers"]:
                stage_logger.removeHandler(handler)
            stage_logger.addHandler(_handler)
            if stage_logger.getEffectiveLevel() > logging.INFO:  # keep DEBUG when asked for (`--verbose`)
                stage_logger.setLevel(logging.INFO)
        _handler.active_runs.append(run_id)
    try:
        yield
    finally:
        with _lock:
            _handler.active_runs.remove(run_id)
            if not _handler.active_runs:
                stage_logger.removeHandler(_handler)
                stage_logger.setLevel(_saved["level"])
                for handler in _saved["handlers"]:
                    stage_logger.addHandler(handler)
