"""What one local `run` works against: the emulators and Prefect's API, started side by side, or the running ones.

Prefect's API is, in this order: the one Prefect has configured (`PREFECT_API_URL`, a profile); the one `emulators up`
keeps running; else this command's own temporary server (runtime/prefect_api.py), started before anything else so it
comes up while the emulators start and the caller imports the flow. The caller imports the flow inside the block:
Prefect reads `PREFECT_API_URL` when it is imported. Everything started here stops when the block ends: Prefect's API
last, once Prefect has sent it the run's remaining logs and events.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ecom_local.api.data import DataSource
from ecom_local.emulators.prefect_api import PrefectApi, drain_prefect_workers, wait_healthy
from ecom_local.emulators.running import RunningEmulators, exported_env, local_emulators
from ecom_pipeline.settings import Settings
from ecom_pipeline.timings import Spans

logger = logging.getLogger("ecom_local.emulators")

# How long a run waits for the Prefect API `emulators up` keeps: it is up already, or being started by `up`.
KEPT_API_TIMEOUT_SECONDS = 120.0
# Prefect's flow-run heartbeat setting (PREFECT_FLOWS_HEARTBEAT_FREQUENCY; the older name is an alias of it).
HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@dataclass
class LocalServices:
    """The services of one local run, and when each became ready (`spans`)."""

    running: RunningEmulators | None
    prefect_api_url: str | None  # what this command set PREFECT_API_URL to; None: Prefect's own choice
    spans: Spans = field(default_factory=Spans)
    own_prefect_api: PrefectApi | None = None

    def wait_for_prefect(self) -> None:
        """Block until the Prefect API this command set answers (no wait when Prefect chose its own)."""
        if self.prefect_api_url is None:
            return
        own = self.own_prefect_api
        if own is not None:
            own.wait_ready()
            self.spans.add("prefect_api", own.started_at or 0.0, own.ready_at or time.time())
        else:
            wait_healthy(self.prefect_api_url, KEPT_API_TIMEOUT_SECONDS, "the Prefect API `emulators up` keeps")

    @contextmanager
    def flow_settings(self) -> Iterator[None]:
        """Prefect's settings for the flow: no flow-run heartbeats on an API this command chose (its own temporary
        one, or the one `emulators up` keeps), unless the environment sets their frequency.

        A heartbeat event every 180 s (Prefect's default) lets a server's automation mark a run that stopped sending
        them as crashed. Those local APIs live no longer than the run or the `up` shell, so nothing there watches
        them; and Prefect's heartbeat thread sleeps in 1 s steps, so a flow's end waits up to 1 s for it (0.5 s on
        average). An API Prefect has configured keeps Prefect's setting: its server may watch them.
        """
        if self.prefect_api_url is None or any(name in os.environ for name in HEARTBEAT_VARIABLES):
            yield
            return
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


def _own_api_needed(running: RunningEmulators | None) -> bool:
    """Start a temporary API only where Prefect would start one itself, and `emulators up` keeps none."""
    if "PREFECT_API_URL" in os.environ or "prefect" in sys.modules:  # imported: its settings are already fixed
        return False
    return running is None or not running.prefect_api_url


def _prefect_api_url(own_api: PrefectApi | None, running: RunningEmulators | None) -> str | None:
    """The API this command points Prefect at, or None to leave Prefect its own choice."""
    if own_api is not None:
        if not own_api.serving():  # Prefect has an API configured here: its own check said so
            return None
        logger.info("Prefect API: this run's temporary server on %s", own_api.api_url)
        return own_api.api_url
    if running is not None and running.prefect_api_url and "PREFECT_API_URL" not in os.environ:
        logger.info("Prefect API: the one `emulators up` keeps, on %s", running.prefect_api_url)
        return running.prefect_api_url
    return None


@contextmanager
def local_services(
    settings: Settings,
    source: DataSource | None,
    requested: Mapping[str, Any] | None,
    running: RunningEmulators | None,
    spans: Spans | None = None,
) -> Iterator[LocalServices]:
    """The emulators (`running`'s, else this command's own) and Prefect's API for the block; their spans in `spans`.

    Raises:
        ConfigError: `requested` data differ from what the running emulators serve.
        RuntimeStartError: an emulator or Prefect's API could not start.
    """
    own_api = PrefectApi().start() if _own_api_needed(running) else None
    spans = Spans() if spans is None else spans
    try:
        with ExitStack() as stack:
            started = time.time()
            in_use = stack.enter_context(local_emulators(settings, source, requested))  # `running`, unless gone since
            spans.add("emulators", started, time.time())
            api_url = _prefect_api_url(own_api, in_use)
            if api_url is not None:
                # Its UI is off: an empty UI URL keeps Prefect from printing links to it ("View at ...").
                ui = {} if "PREFECT_UI_URL" in os.environ else {"PREFECT_UI_URL": ""}
                stack.enter_context(exported_env({"PREFECT_API_URL": api_url, **ui}))
            own_serving = own_api if api_url is not None else None
            try:
                yield LocalServices(in_use, api_url, spans, own_serving)
            finally:  # a failed run too: its last lines say why it failed
                shutdown_started = time.time()
                if own_serving is not None:
                    drain_prefect_workers()  # before the API stops: Prefect sends the run's last logs and events
                    own_serving.terminate()  # it shuts down while the emulators do
        if own_api is not None:
            own_api.stop()
        spans.add("shutdown", shutdown_started, time.time())
    finally:
        if own_api is not None:
            own_api.stop()
