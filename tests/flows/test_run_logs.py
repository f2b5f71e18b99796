"""Our stage loggers reach the flow run's logs in the Prefect API; no other logger changes level."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler
from prefect.runtime import flow_run

from flows.run_logs import STAGE_LOGGER, stage_logs_to_flow_run

OTHER_LOGGERS = ("", "prefect", "botocore", "urllib3", "py4j")


def _levels() -> dict[str, int]:
    return {name: logging.getLogger(name).getEffectiveLevel() for name in (*OTHER_LOGGERS, STAGE_LOGGER)}


@flow(name="stage-logs-probe")
@stage_logs_to_flow_run()
def probe_flow(tag: str) -> dict[str, Any]:
    """Log as the stages do: from the flow's thread and from a worker thread without Prefect's run context."""
    logging.getLogger("ecom_pipeline.locks").info("run lock taken %s", tag)
    worker = threading.Thread(
        target=lambda: logging.getLogger("ecom_pipeline.extract").info("extracted carts in a thread %s", tag)
    )
    worker.start()
    worker.join()
    logging.getLogger("botocore.endpoint").info("third-party chatter %s", tag)
    logging.getLogger("ecom_pipeline.transform").debug("debug detail %s", tag)
    return {"levels": _levels(), "flow_run_id": flow_run.id}


def _stored_messages(flow_run_id: str) -> list[tuple[str, str]]:
    APILogHandler().flush()  # send what is still queued
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [(log.name, log.message) for log in logs]


def test_stage_info_lines_reach_the_flow_run_logs_and_nothing_else_changes(prefect_harness: None) -> None:
    before = _levels()
    outcome = probe_flow("a1")

    messages = _stored_messages(outcome["flow_run_id"])
    assert ("ecom_pipeline.locks", "run lock taken a1") in messages
    assert ("ecom_pipeline.extract", "extracted carts in a thread a1") in messages
    assert not [m for m in messages if "third-party chatter" in m[1] or "debug detail" in m[1]]
    during = outcome["levels"]
    assert during[STAGE_LOGGER] == logging.INFO
    assert {name: during[name] for name in OTHER_LOGGERS} == {name: before[name] for name in OTHER_LOGGERS}
    assert _levels() == before  # restored once the run ends


def test_prefect_extra_loggers_handler_does_not_double_the_lines(prefect_harness: None) -> None:
    # What PREFECT_LOGGING_EXTRA_LOGGERS=ecom_pipeline does at start-up: Prefect's own API handler on our logger.
    stage_logger = logging.getLogger(STAGE_LOGGER)
    prefect_handler = APILogHandler()
    stage_logger.addHandler(prefect_handler)
    try:
        outcome = probe_flow("b2")
    finally:
        stage_logger.removeHandler(prefect_handler)

    messages = _stored_messages(outcome["flow_run_id"])
    assert messages.count(("ecom_pipeline.locks", "run lock taken b2")) == 1


def test_outside_a_flow_run_nothing_is_attached() -> None:
    before = logging.getLogger(STAGE_LOGGER).handlers[:]
    with stage_logs_to_flow_run():
        assert logging.getLogger(STAGE_LOGGER).handlers == before


@pytest.fixture(autouse=True)
def _stage_logger_left_as_found() -> Any:
    handlers = logging.getLogger(STAGE_LOGGER).handlers[:]
    yield
    assert logging.getLogger(STAGE_LOGGER).handlers == handlers
