"""What a local run asks of Prefect: no flow-run heartbeats on an API the command chose, Prefect's own otherwise."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.events.worker import EventsWorker
from prefect.settings import get_current_settings

from ecom_local.emulators.run_services import LocalServices

OWN_API = LocalServices(running=None, prefect_api_url="http://127.0.0.1:4200/api")  # an API this command chose
PREFECTS_CHOICE = LocalServices(running=None, prefect_api_url=None)  # Prefect's configured API, or its own choice


@flow(name="heartbeat-probe")
def probe() -> UUID:
    from prefect.runtime import flow_run

    return UUID(flow_run.id)


def events_of(flow_run_id: UUID, names: list[str]) -> list[Any]:
    """The events named `names` whose resource is the flow run, as the harness server has persisted them."""
    wanted = EventFilter(
        event=EventNameFilter(name=names), resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"])
    )
    with get_client(sync_client=True) as client:
        return client.read_events(filter=wanted, limit=50).events


def wait_for_event(flow_run_id: UUID, name: str) -> None:
    deadline = time.monotonic() + 60  # the server's event persister writes in batches, every few seconds
    while not events_of(flow_run_id, [name]):
        assert time.monotonic() < deadline, f"{name} of flow run {flow_run_id} never reached the server"
        time.sleep(0.5)


def test_an_api_the_command_chose_gets_no_heartbeats_and_prefects_choice_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"):
        monkeypatch.delenv(name, raising=False)
    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None  # Prefect's default sends them (180 s)
    with OWN_API.flow_settings():
        assert get_current_settings().flows.heartbeat_frequency is None
    with PREFECTS_CHOICE.flow_settings():
        assert get_current_settings().flows.heartbeat_frequency == default
    assert get_current_settings().flows.heartbeat_frequency == default


def test_a_heartbeat_frequency_the_environment_sets_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with OWN_API.flow_settings():
        assert get_current_settings().flows.heartbeat_frequency is not None


def test_a_flow_on_an_api_the_command_chose_sends_no_heartbeat(prefect_harness: None) -> None:
    with PREFECTS_CHOICE.flow_settings():
        beating = probe()
    with OWN_API.flow_settings():
        quiet = probe()
    EventsWorker.drain_all()
    wait_for_event(beating, "prefect.flow-run.heartbeat")  # Prefect sends the first one as the flow starts
    wait_for_event(quiet, "prefect.flow-run.Completed")  # its events have reached the server
    assert events_of(quiet, ["prefect.flow-run.heartbeat"]) == []
