"""Secrets from AWS Secrets Manager (the session's moto server serves it): precedence, rotation, failing fast.

Precedence is checked here with all three sources at once: the environment, the Prefect blocks, this secret.

Contract: GetSecretValue answers `SecretString` and raises `ResourceNotFoundException` for an unknown secret
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html); PutSecretValue makes
the new value AWSCURRENT, which is what a read without a version returns
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from log_capture import every_logger_at_debug
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect_aws import AwsCredentials
from snowflake_login import make_key_pair

from ecom_local.emulators.s3 import EMULATOR_REGION, S3Emulator
from ecom_pipeline.credentials.blocks import upsert_blocks
from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import Settings, SnowflakeSettings

PASSPHRASE = f"sm-pass-{uuid.uuid4().hex}"


@pytest.fixture
def secrets(s3_emulator: S3Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Secrets Manager client on the moto server; the environment points the pipeline at the same server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_emulator.endpoint_url)
    return boto3.client("secretsmanager", endpoint_url=s3_emulator.endpoint_url, region_name=EMULATOR_REGION)


def new_secret(client: Any, values: dict[str, str] | str) -> str:
    """Create a secret with a unique name under `ecom/` and return the name."""
    name = f"ecom/test-{uuid.uuid4().hex[:10]}"
    client.create_secret(Name=name, SecretString=values if isinstance(values, str) else json.dumps(values))
    return name


def settings_for(secret_id: str, **snowflake: Any) -> Settings:
    """Settings of a real account (no emulator) that name `secret_id`."""
    return Settings().updated(top={"secret_id": secret_id}, snowflake={"account": "acme-xy12345", **snowflake})


def test_a_secret_fills_only_what_no_earlier_source_set(
    secrets: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_pair = make_key_pair(PASSPHRASE)
    secret_id = new_secret(
        secrets,
        {
            "snowflake_private_key": key_pair.private_pem,
            "snowflake_private_key_passphrase": PASSPHRASE,
            "failure_webhook_url": "https://hooks.example.com/from-secret",
        },
    )
    monkeypatch.setenv("ECOM_FAILURE_WEBHOOK_URL", "https://hooks.example.com/from-environment")

    with every_logger_at_debug(caplog):  # botocore logs every response body at DEBUG
        resolved = resolve_credentials(settings_for(secret_id))

    snowflake = resolved.snowflake
    assert snowflake.private_key is not None and snowflake.private_key.get_secret_value() == key_pair.private_pem
    connections = snowflake.credentials_block  # they sign in with the secret's key
    assert connections.private_key.get_secret_value() == key_pair.private_pem.strip().encode()
    assert snowflake.private_key_passphrase.get_secret_value() == PASSPHRASE
    assert resolved.failure_webhook_url.get_secret_value() == "https://hooks.example.com/from-environment"
    assert "GetSecretValue" in caplog.text  # the capture saw the call ...
    shown = f"{caplog.text}{resolved!r}{resolved}{resolved.model_dump_json()}"  # ... and no value anywhere
    assert [fragment for fragment in key_pair.secret_fragments if fragment in shown] == []
    assert "from-secret" not in shown


def test_for_each_value_the_environment_then_a_block_then_the_secret_wins(
    prefect_harness: None, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/prefect.md#where-values-come-from: the first source that sets a value wins; a code default never counts."""
    secret_id = new_secret(
        secrets,
        {
            "snowflake_password": "sm-password-Ws6",  # pragma: allowlist secret
            "failure_webhook_url": "https://hooks.example.com/secret",
        },
    )
    in_block = {"account": "acme-xy12345", "user": "block_user", "role": "BLOCK_ROLE"}
    in_block["password"] = "block-pw-Wb6"  # pragma: allowlist secret
    upsert_blocks(Settings(snowflake=SnowflakeSettings(**in_block)), prefix="three")
    monkeypatch.setenv("SNOWFLAKE_ROLE", "ENV_ROLE")
    monkeypatch.setenv("ECOM_SECRET_ID", secret_id)

    resolved = resolve_credentials(Settings(), "three")

    snowflake, connections = resolved.snowflake, resolved.snowflake.credentials_block
    assert (snowflake.role, connections.role) == ("ENV_ROLE", "ENV_ROLE")  # the environment over the block
    assert (snowflake.user, connections.user) == ("block_user", "block_user")  # the block over a code default
    assert snowflake.password.get_secret_value() == "block-pw-Wb6"  # the block over the secret ...
    assert connections.password.get_secret_value() == "block-pw-Wb6"  # ... and what the connections sign in with
    assert resolved.failure_webhook_url.get_secret_value() == "https://hooks.example.com/secret"  # the secret alone
    monkeypatch.setenv("SNOWFLAKE_TOKEN", "env-token-Wt6")  # a second method, from another source: both named
    with pytest.raises(ConfigError, match="SNOWFLAKE_TOKEN and password of block 'three-snowflake-credentials' are"):
        resolve_credentials(Settings(), "three")


def test_the_secret_is_read_with_the_identity_of_the_aws_credentials_block(
    prefect_harness: None, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    AwsCredentials(profile_name="absent-profile-Ap1").save("ident-aws-credentials", overwrite=True)
    secret_id = new_secret(secrets, {"snowflake_token": "pat-Ap1"})
    monkeypatch.setenv("ECOM_SECRET_ID", secret_id)

    with pytest.raises(PipelineError, match=f"secret '{secret_id}' .* cannot be read: ProfileNotFound"):
        resolve_credentials(Settings(), "ident")  # the block's profile, not the environment's keys


def test_an_environment_sign_in_and_a_secret_one_are_two_methods(secrets: Any) -> None:
    secret_id = new_secret(secrets, {"snowflake_password": "sm-password-Qq1"})
    with pytest.raises(ConfigError) as raised:
        resolve_credentials(settings_for(secret_id, token="env-token"))  # the environment names a PAT
    message = str(raised.value)
    assert f"SNOWFLAKE_TOKEN and key 'snowflake_password' of secret '{secret_id}' are both set" in message
    assert "sm-password-Qq1" not in message and "env-token" not in message


def test_a_rotated_secret_is_used_by_the_next_resolution(secrets: Any) -> None:
    secret_id = new_secret(secrets, {"snowflake_token": "pat-before-rotation"})
    base = settings_for(secret_id)

    first = resolve_credentials(base)
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({"snowflake_token": "pat-after-rotation"}))
    second = resolve_credentials(base)

    assert first.snowflake.token.get_secret_value() == "pat-before-rotation"
    assert second.snowflake.token.get_secret_value() == "pat-after-rotation"
    assert base.snowflake.token is None  # nothing cached on the settings a worker keeps between runs


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"failure_webhook_url": "https://hooks.example.com/T0K3N"}, "key 'snowflake_private_key' of secret"),
        ({"snowflake_private_key_passphrase": "orphan-Ph4"}, "key 'snowflake_private_key_passphrase' of secret"),
        ({"snowflake_private_key": "not-a-key-Kk7"}, "key 'snowflake_private_key' of secret"),
        (
            {"snowflake_privatekey": "typo-Tt2"},
            "has unknown key(s) snowflake_privatekey; valid keys: snowflake_private_key",
        ),
        ({"snowflake_token": ""}, "key 'snowflake_token' must be a non-empty string"),
        ("plain-text-Pt9", "must be a JSON object"),
    ],
)
def test_a_missing_or_unusable_key_names_the_secret_and_the_key(
    secrets: Any, values: dict[str, str] | str, expected: str
) -> None:
    secret_id = new_secret(secrets, values)
    with pytest.raises(ConfigError) as raised:
        resolve_credentials(settings_for(secret_id))
    message = str(raised.value)
    assert expected in message and secret_id in message and "\n" not in message
    for value in values.values() if isinstance(values, dict) else [values]:
        assert not value or value not in message


def test_a_missing_secret_fails_the_run_at_once_before_any_task(
    prefect_harness: None, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.pipeline import PipelineParameters, ecom_pipeline

    secret_id = f"ecom/absent-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ECOM_SECRET_ID", secret_id)
    started = time.monotonic()

    state = ecom_pipeline(PipelineParameters(), return_state=True)

    assert state.is_failed()
    assert f"secret '{secret_id}' (ECOM_SECRET_ID) not found" in state.message
    assert time.monotonic() - started < 30  # no retry, no backoff

    async def task_runs() -> list[Any]:
        async with get_client() as client:
            run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            return await client.read_task_runs(flow_run_filter=run_filter)

    assert asyncio.run(task_runs()) == []
