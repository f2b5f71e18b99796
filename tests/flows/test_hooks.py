"""The failure webhook hook against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from log_capture import every_logger_at_debug
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import State
from test_import_graph import GRAPH
from webhook_support import WebhookServer

from ecom_local.emulators.ports import free_port
from ecom_local.emulators.s3 import EMULATOR_REGION, S3Emulator
from flows.hooks import notify_failure

SNOWFLAKE_PASSWORD = "sf-pass-9Qx2"


@flow(name="hooked-flow", flow_run_name="hooked-{day}", on_failure=[notify_failure])
def failing_flow(day: str) -> None:
    """Fails with a message that quotes a secret, as a careless driver error might."""
    raise ValueError(f"warehouse login refused for password {SNOWFLAKE_PASSWORD}")


@flow(name="fine-flow", on_failure=[notify_failure])
def fine_flow() -> int:
    return 1


def test_failed_run_posts_one_message_without_secrets(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", SNOWFLAKE_PASSWORD)
    monkeypatch.setenv("ECOM_RUN_DATE", "2026-06-17")
    with WebhookServer() as server:
        monkeypatch.setenv("ECOM_FAILURE_WEBHOOK_URL", server.url)
        state = failing_flow("d1", return_state=True)

    assert state.is_failed()
    assert len(server.requests) == 1
    path, body = server.requests[0]
    assert path == "/hooks/T0KEN"
    assert body["flow"] == "hooked-flow"
    assert body["flow_run"] == "hooked-d1"
    assert body["state"] == "Failed"
    assert body["run_date"] == "2026-06-17"
    assert "warehouse login refused" in body["message"]
    assert SNOWFLAKE_PASSWORD not in json.dumps(body)
    assert "***" in body["message"]


def test_the_hook_alerts_without_asking_the_automations() -> None:
    """One alert per failed run by construction: Prefect runs this hook on Failed runs, the automation takes Crashed."""
    assert "flows.automations" not in GRAPH["flows.hooks"]


def test_no_webhook_url_sends_nothing(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECOM_FAILURE_WEBHOOK_URL", raising=False)
    with WebhookServer() as server:
        state = failing_flow("d2", return_state=True)

    assert state.is_failed()
    assert server.requests == []


def test_successful_run_sends_nothing(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookServer() as server:
        monkeypatch.setenv("ECOM_FAILURE_WEBHOOK_URL", server.url)
        assert fine_flow() == 1

    assert server.requests == []


@pytest.mark.parametrize("answer", ["refused", "http-500"])
def test_broken_webhook_never_raises(prefect_harness: None, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    state: State = failing_flow("d3", return_state=True)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    with WebhookServer(status=500) as server:
        url = server.url if answer == "http-500" else f"http://127.0.0.1:{free_port()}/closed"
        monkeypatch.setenv("ECOM_FAILURE_WEBHOOK_URL", url)

        assert notify_failure(failing_flow, flow_run, state) is None

    assert len(server.requests) == (1 if answer == "http-500" else 0)


def test_the_webhook_url_and_a_secret_from_secrets_manager(
    prefect_harness: None, s3_emulator: S3Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The URL may live in the secret (`failure_webhook_url`); the secret's values are scrubbed like the others."""
    monkeypatch.delenv("ECOM_FAILURE_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_emulator.endpoint_url)
    secret_id = f"ecom/hooks-{uuid.uuid4().hex[:8]}"
    client = boto3.client("secretsmanager", endpoint_url=s3_emulator.endpoint_url, region_name=EMULATOR_REGION)
    with WebhookServer() as server:
        values = {"failure_webhook_url": server.url, "snowflake_password": SNOWFLAKE_PASSWORD}
        client.create_secret(Name=secret_id, SecretString=json.dumps(values))
        monkeypatch.setenv("ECOM_SECRET_ID", secret_id)
        with every_logger_at_debug(caplog):  # botocore logs response bodies at DEBUG: not the secret's
            state = failing_flow("d4", return_state=True)

    assert state.is_failed()
    [(path, body)] = server.requests
    assert path == "/hooks/T0KEN" and "***" in body["message"]
    assert SNOWFLAKE_PASSWORD not in json.dumps(body)
    assert "GetSecretValue" in caplog.text and "127.0.0.1" in caplog.text  # the read and the host are logged ...
    leaks = [record.name for record in caplog.records if "T0KEN" in record.getMessage()]
    assert leaks == []  # ... never the URL's token (the failing flow's own message quotes the password on purpose)
