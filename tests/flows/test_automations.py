"""flows/automations.yaml on a real `prefect server start`: `ecom-pipeline automations apply`, twice, then an edit;
the server's own automation services firing them (a data-quality event; a failed run alerted once, by the hook).

The triggers' matching is also checked without a server, with the Prefect server's own matcher.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.events import Event
from prefect.events.clients import PrefectEventsClient
from prefect.events.schemas.automations import Posture
from prefect.server.events.schemas.automations import EventTrigger as ServerEventTrigger
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Crashed
from prefect_support import PrefectServer, prefect_client
from webhook_support import WebhookServer

from ecom_local.emulators.ports import free_port
from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import load_settings
from flows.automations import AUTOMATIONS_FILE, Outcome, apply_automations
from flows.automations import load_automations_file as load_file

CRASHED = "ecom-pipeline run crashed"
DATA_QUALITY = "ecom-pipeline data-quality breach"
DRIFT = "ecom-pipeline source schema drift"
NO_SUCCESS = "ecom-pipeline no successful run in 26 hours"
BLOCK = "ecom-alerts"
FLOW_RUNS = {"prefect.resource.id": "prefect.flow-run.*"}
# name -> (expect, match, match_related, posture, threshold, within): what a team relies on, written out here.
TRIGGERS = {
    CRASHED: (
        {"prefect.flow-run.Crashed"},
        FLOW_RUNS,
        {"prefect.resource.role": "flow", "prefect.resource.name": ["ecom-pipeline", "ecom-reprocess"]},
        Posture.Reactive,
        1,
        timedelta(0),
    ),
    DATA_QUALITY: (
        {"ecom.data-quality.warning", "ecom.data-quality.failed"},
        {"prefect.resource.id": "ecom.data-quality.*"},
        {},
        Posture.Reactive,
        1,
        timedelta(0),
    ),
    DRIFT: (
        {"ecom.schema.drift-detected"},
        {"prefect.resource.id": "ecom.source.*"},
        {},
        Posture.Reactive,
        1,
        timedelta(0),
    ),
    NO_SUCCESS: (
        {"prefect.flow-run.Completed"},
        FLOW_RUNS,
        {"prefect.resource.role": "flow", "prefect.resource.name": "ecom-pipeline"},
        Posture.Proactive,
        1,
        timedelta(seconds=93600),
    ),
}
_RESULT_LINE = re.compile(r"^(automation|notification block) '(.+)': (.+?)(?: \(id ([0-9a-f-]{36})\))?$")

# A run of a flow named like the pipeline that fails at once, with the pipeline's failure hook.
FAILING_RUN = """
import sys
from prefect import flow
from flows.hooks import notify_failure

@flow(name="ecom-pipeline", flow_run_name=sys.argv[1], on_failure=[notify_failure])
def failing() -> None:
    raise ValueError("stage transform failed: injected for the automation test")

failing(return_state=True)
"""


def results(completed: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(kind, name) -> (outcome, id) from the command's output lines."""
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = [_RESULT_LINE.match(line) for line in completed.stdout.splitlines()]
    return {(m[1], m[2]): (m[3], m[4]) for m in found if m}


def apply_cli(server: PrefectServer, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return server.run(sys.executable, "-m", "ecom_cli", "automations", "apply", *args, env=env, timeout=120)


def on_server(server: PrefectServer) -> dict[str, Any]:
    """Every automation the server holds, by name (a name held twice would fail here)."""
    with prefect_client(server.api_url) as client:
        automations = client.read_automations()
    by_name = {automation.name: automation for automation in automations}
    assert len(by_name) == len(automations), [automation.name for automation in automations]
    return by_name


@pytest.fixture(scope="module")
def webhook() -> Any:
    with WebhookServer() as server:
        yield server


@pytest.fixture(scope="module")
def cli_env(prefect_server: PrefectServer, webhook: WebhookServer) -> dict[str, str]:
    return {**prefect_server.env, "ECOM_FAILURE_WEBHOOK_URL": webhook.url}


@pytest.fixture(scope="module")
def applied(prefect_server: PrefectServer, cli_env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """`ecom-pipeline automations apply`, run twice against the server."""
    return [apply_cli(prefect_server, cli_env), apply_cli(prefect_server, cli_env)]


def test_apply_creates_the_block_and_automations_then_a_second_run_changes_nothing(
    prefect_server: PrefectServer, applied: list[subprocess.CompletedProcess[str]], webhook: WebhookServer
) -> None:
    first, second = (results(run) for run in applied)
    names = {("notification block", BLOCK), *(("automation", name) for name in TRIGGERS)}
    assert set(first) == set(second) == names
    assert {outcome for outcome, _id in first.values()} == {"created"}
    assert {outcome for outcome, _id in second.values()} == {"unchanged"}
    assert {key: ident for key, (_o, ident) in first.items()} == {key: ident for key, (_o, ident) in second.items()}
    summary = f"4 automations on {prefect_server.api_url}: 0 created, 0 updated, 4 unchanged"
    assert applied[1].stdout.splitlines()[-1] == summary
    for run in applied:  # the URL carries a token: never printed; and no warning either
        assert webhook.url not in run.stdout and "T0KEN" not in run.stdout and run.stderr == ""


def test_the_server_holds_exactly_the_four_automations_with_their_triggers_and_notification(
    prefect_server: PrefectServer, applied: list[subprocess.CompletedProcess[str]], webhook: WebhookServer
) -> None:
    automations = on_server(prefect_server)
    assert set(automations) == set(TRIGGERS)
    block_id = results(applied[0])[("notification block", BLOCK)][1]
    for name, (expect, match, match_related, posture, threshold, within) in TRIGGERS.items():
        automation = automations[name]
        trigger = automation.trigger
        assert trigger.expect == expect, name
        assert trigger.match.model_dump() == match, name
        assert trigger.match_related.model_dump() == match_related, name
        assert (trigger.posture, trigger.threshold, trigger.within) == (posture, threshold, within), name
        assert automation.enabled and automation.tags == ["ecom"]
        [action] = automation.actions
        assert (action.type, str(action.block_document_id)) == ("send-notification", block_id), name
        assert action.subject.startswith("ecom: ") and action.body, name
    with prefect_client(prefect_server.api_url) as client:
        block = client.read_block_document(uuid.UUID(block_id), include_secrets=True)
    assert block.block_type.slug == "custom-webhook"
    assert block.data["url"] == "{{webhook_url}}"  # the URL itself is a secret of the block, not its plain field
    assert block.data["secrets"] == {"webhook_url": webhook.url}
    assert block.data["json_data"] == {"text": "{{subject}}\n{{body}}"}


def test_an_edited_field_is_shown_by_a_dry_run_then_updated_in_place(
    prefect_server: PrefectServer, applied: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    before = on_server(prefect_server)
    document = yaml.safe_load(AUTOMATIONS_FILE.read_text())
    [no_success] = [raw for raw in document["automations"] if raw["name"] == NO_SUCCESS]
    no_success["trigger"]["within"] = 28 * 3600
    edited = tmp_path / "automations.yaml"
    edited.write_text(yaml.safe_dump(document, sort_keys=False))

    dry = results(apply_cli(prefect_server, cli_env, "--file", str(edited), "--dry-run"))
    assert dry[("automation", NO_SUCCESS)] == ("would be updated", str(before[NO_SUCCESS].id))
    assert {outcome for key, (outcome, _id) in dry.items() if key != ("automation", NO_SUCCESS)} == {"unchanged"}
    assert on_server(prefect_server)[NO_SUCCESS].trigger.within == timedelta(hours=26)

    real = results(apply_cli(prefect_server, cli_env, "--file", str(edited)))
    assert real[("automation", NO_SUCCESS)] == ("updated", str(before[NO_SUCCESS].id))
    after = on_server(prefect_server)
    assert {name: automation.id for name, automation in after.items()} == {n: a.id for n, a in before.items()}
    assert after[NO_SUCCESS].trigger.within == timedelta(hours=28)
    assert after[CRASHED] == before[CRASHED]

    # Back to the file as committed, in-process this time (the other tests read the server).
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        restored = apply_automations(load_settings(failure_webhook_url=cli_env["ECOM_FAILURE_WEBHOOK_URL"]))
    assert {result.name: result.outcome for result in restored if result.kind == "automation"} == {
        CRASHED: Outcome.UNCHANGED,
        DATA_QUALITY: Outcome.UNCHANGED,
        DRIFT: Outcome.UNCHANGED,
        NO_SUCCESS: Outcome.UPDATED,
    }
    assert on_server(prefect_server)[NO_SUCCESS].trigger.within == timedelta(hours=26)


def test_a_data_quality_event_fires_the_automation_which_posts_to_the_webhook(
    prefect_server: PrefectServer, applied: Any, webhook: WebhookServer
) -> None:
    occurred = datetime.now(UTC).replace(microsecond=0)
    marker = uuid.uuid4().hex
    event = Event(
        event="ecom.data-quality.failed",
        resource={"prefect.resource.id": "ecom.data-quality.row_count.carts"},
        payload={"check": "row_count", "figure": 3, "message": f"carts: 3 rows landed, at least 100 expected {marker}"},
        occurred=occurred,
    )

    async def emit() -> None:
        async with PrefectEventsClient(api_url=prefect_server.api_url) as events:
            await events.emit(event)

    asyncio.run(emit())

    [body] = webhook.wait_for(lambda body: marker in body["text"])
    assert body["text"] == (
        "ecom: ecom.data-quality.failed on ecom.data-quality.row_count.carts\n"
        f"ecom.data-quality.failed for ecom.data-quality.row_count.carts at {occurred}: "
        f"carts: 3 rows landed, at least 100 expected {marker}"
    )


def test_a_failed_run_is_alerted_once_by_the_hook_and_a_crash_once_by_the_automation(
    prefect_server: PrefectServer, applied: Any, cli_env: dict[str, str], webhook: WebhookServer
) -> None:
    run_name = f"failing-{uuid.uuid4().hex[:8]}"
    run = prefect_server.run(sys.executable, "-c", FAILING_RUN, run_name, env=cli_env, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    [hook_alert] = webhook.bodies(lambda body: run_name in body["text"])  # posted before the process exited
    assert (hook_alert["flow_run"], hook_alert["state"]) == (run_name, "Failed")
    assert "injected for the automation test" in hook_alert["message"]

    # The same run made Crashed: once the server has alerted that later event, it has long passed the Failed one.
    with prefect_client(prefect_server.api_url) as client:
        client.set_flow_run_state(uuid.UUID(hook_alert["flow_run_id"]), Crashed(), force=True)
    webhook.wait_for(lambda body: f"{run_name} is Crashed" in body["text"])
    first, crash_alert = webhook.bodies(lambda body: run_name in body["text"])
    assert first == hook_alert
    subject, text = crash_alert["text"].split("\n")
    assert subject == f"ecom: flow run ecom-pipeline/{run_name} is Crashed"
    assert text.startswith(f"Flow run ecom-pipeline/{run_name} entered Crashed at ")


def test_prefects_own_command_takes_the_file_but_copies_it_and_apply_then_refuses_to_guess(
    prefect_server: PrefectServer, applied: Any, cli_env: dict[str, str]
) -> None:
    ours = {automation.id for automation in on_server(prefect_server).values()}
    created = prefect_server.cli("automation", "create", "--from-file", str(AUTOMATIONS_FILE))
    try:
        assert created.returncode == 0 and "Created 4 automation(s)" in created.stdout, created.stdout + created.stderr
        with prefect_client(prefect_server.api_url) as client:
            copies = [automation for automation in client.read_automations() if automation.id not in ours]
        assert sorted(copy.name for copy in copies) == sorted(TRIGGERS)
        assert all(copy.actions == [] for copy in copies)  # `notify` is ours: Prefect ignores it

        settings = load_settings(failure_webhook_url=cli_env["ECOM_FAILURE_WEBHOOK_URL"])
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), pytest.raises(ConfigError) as refused:
            apply_automations(settings)
        message = str(refused.value)
        assert message.startswith(f"automation '{CRASHED}': 2 on {prefect_server.api_url} (")
        assert "prefect automation delete --id" in message and "\n" not in message
    finally:
        with prefect_client(prefect_server.api_url) as client:
            for automation in client.read_automations():
                if automation.id not in ours:
                    client.delete_automation(automation.id)
    assert {automation.id for automation in on_server(prefect_server).values()} == ours


def test_apply_refuses_a_missing_prefect_api_in_one_line() -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(ConfigError) as raised:
        apply_automations(load_settings())
    message = str(raised.value)
    assert message.startswith("no Prefect API configured: an ephemeral server would discard the automations")
    assert "PREFECT_API_URL" in message and "\n" not in message


def test_an_unreachable_api_fails_in_one_line_naming_it_as_worth_a_retry() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings({PREFECT_API_URL: url}), pytest.raises(PipelineError) as raised:
        apply_automations(load_settings())
    assert str(raised.value).startswith(f"Prefect API {url} unreachable: ")
    assert raised.value.transient and "\n" not in str(raised.value)


def _covers(name: str, event: str, resource_id: str, flow: str | None = None) -> bool:
    """Whether the Prefect server's own matcher takes `event` for the file's automation `name`."""
    [spec] = [spec for spec in load_file().automations if spec.core.name == name]
    trigger = ServerEventTrigger.model_validate(spec.core.trigger.model_dump(mode="json"))
    related = [] if flow is None else [
        {"prefect.resource.id": f"prefect.flow.{uuid.uuid4()}", "prefect.resource.role": "flow",
         "prefect.resource.name": flow},
    ]  # fmt: skip
    received = ReceivedEvent(
        event=event,
        resource={"prefect.resource.id": resource_id},
        related=related,
        occurred=datetime.now(UTC),
        id=uuid.uuid4(),
    )
    return trigger.covers(received)


@pytest.mark.parametrize(
    ("name", "event", "resource_id", "flow", "covered"),
    [
        (CRASHED, "prefect.flow-run.Crashed", "prefect.flow-run.1", "ecom-pipeline", True),
        (CRASHED, "prefect.flow-run.Crashed", "prefect.flow-run.1", "ecom-reprocess", True),
        (CRASHED, "prefect.flow-run.Crashed", "prefect.flow-run.1", "someone-elses-flow", False),
        (CRASHED, "prefect.flow-run.Failed", "prefect.flow-run.1", "ecom-pipeline", False),  # the hook's: one alert
        (DATA_QUALITY, "ecom.data-quality.warning", "ecom.data-quality.null_rate.users", None, True),
        (DATA_QUALITY, "ecom.data-quality.failed", "ecom.data-quality.row_count.carts", None, True),
        (DATA_QUALITY, "ecom.data-quality.passed", "ecom.data-quality.row_count.carts", None, False),
        (DRIFT, "ecom.schema.drift-detected", "ecom.source.carts", None, True),
        (DRIFT, "ecom.schema.drift-detected", "ecom.data-quality.row_count.carts", None, False),
        (NO_SUCCESS, "prefect.flow-run.Completed", "prefect.flow-run.1", "ecom-pipeline", True),
        (NO_SUCCESS, "prefect.flow-run.Completed", "prefect.flow-run.1", "ecom-reprocess", False),
    ],
)
def test_each_trigger_takes_its_events_and_no_others(
    name: str, event: str, resource_id: str, flow: str | None, covered: bool
) -> None:
    assert _covers(name, event, resource_id, flow) is covered


def test_a_bad_automation_fails_in_one_line_naming_it_and_the_field(tmp_path: Path) -> None:
    document = yaml.safe_load(AUTOMATIONS_FILE.read_text())
    document["automations"][2]["trigger"]["posture"] = "Sometimes"
    bad = tmp_path / "automations.yaml"
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as raised:
        load_file(bad)
    assert str(raised.value).startswith(f"automations file {bad}, automation '{DRIFT}', field 'trigger.event.posture'")
