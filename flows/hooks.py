"""Flow state hooks: tell a webhook (Slack, Teams, any JSON endpoint) when a pipeline run fails.

Use as `@flow(on_failure=[notify_failure])`. The hook reads `ECOM_FAILURE_WEBHOOK_URL` through Settings, or
else the `failure_webhook_url` key of the Secrets Manager secret (`ECOM_SECRET_ID`, read when the hook fires),
posts a short JSON message, and never raises: a broken webhook must not hide the run's own failure. It is the one
notifier of a failed run, with or without the automations (flows/automations.yaml), which alert crashed runs only.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from prefect import Flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import MissingContextError
from prefect.states import State

from ecom_pipeline.credentials.secret_store import apply_secret, muted, read_secret, secret_values
from ecom_pipeline.exceptions import PipelineError
from ecom_pipeline.settings import Settings, load_settings

logger = logging.getLogger("flows.hooks")

WEBHOOK_TIMEOUT_SECONDS = 5.0
MAX_MESSAGE_CHARS = 500
REDACTED = "***"


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (shown in the Prefect UI) when there is one, else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def _run_date(flow_run: FlowRun, settings: Settings) -> str:
    """The run's `params.run_date` when given, else the settings' date."""
    params: Any = (flow_run.parameters or {}).get("params") or {}
    run_date = params.get("run_date") if isinstance(params, dict) else getattr(params, "run_date", None)
    return str(run_date or settings.run_date.isoformat())


def failure_message(flow: Flow[Any, Any], flow_run: FlowRun, state: State, settings: Settings) -> dict[str, str]:
    """The JSON body: flow, run, state and a short, secret-free state message (also a Slack `text`)."""
    message = (state.message or "")[:MAX_MESSAGE_CHARS]
    for secret in secret_values(settings):
        message = message.replace(secret, REDACTED)
    run_date = _run_date(flow_run, settings)
    return {
        "text": f"Flow run {flow.name}/{flow_run.name} ({run_date}) is {state.name}: {message}",
        "flow": flow.name,
        "flow_run": flow_run.name,
        "flow_run_id": str(flow_run.id),
        "state": state.name or state.type.value,
        "message": message,
        "run_date": run_date,
        "profile": settings.profile.value,
    }


def notify_failure(flow: Flow[Any, Any], flow_run: FlowRun, state: State) -> None:
    """Prefect `on_failure` hook: POST `failure_message(...)` to the failure webhook, if one is set."""
    host = "?"
    try:
        settings = load_settings()
        if settings.secret_id:
            # Read afresh (a run's settings end with the run): the URL may be there, and its values get scrubbed.
            try:
                settings = apply_secret(settings, read_secret(settings))
            except PipelineError as error:  # the environment's URL, if any, is still worth a try
                _logger().warning("failure webhook: %s", error)
        if settings.failure_webhook_url is None:
            return
        url = settings.failure_webhook_url.get_secret_value()
        # The URL itself may carry a token (Slack, Teams): only its host is ever logged.
        host = urlsplit(url).hostname or "?"
        with muted("httpx", "httpcore"):  # httpx's INFO line quotes the URL, token included
            response = httpx.post(
                url, json=failure_message(flow, flow_run, state, settings), timeout=WEBHOOK_TIMEOUT_SECONDS
            )
        response.raise_for_status()
        _logger().info("failure of %s reported to the webhook on %s", flow_run.name, host)
    except Exception as error:  # a hook must never raise: the run's own failure is what matters
        # Only the error's type: httpx's messages quote the full URL, token included.
        _logger().warning("failure webhook on %s not notified: %s", host, type(error).__name__)
