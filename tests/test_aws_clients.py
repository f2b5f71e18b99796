"""boto3 clients and the Spark job's keys: from an AwsCredentials block with every field it carries, or settings.

Each test checks what goes over the wire to the moto server (the signed request's key id and session token),
not just what an object holds. Contracts: prefect-aws 0.7 `AwsCredentials.get_boto3_session` (keys, session
token, profile, assumed role) and `AwsClientParameters.get_params_override` (endpoint, verify, config); botocore
signs with `X-Amz-Security-Token` for temporary keys
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-add-signature-to-request.html).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect_aws import AwsClientParameters, AwsCredentials
from pydantic import SecretStr

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_glue_client, make_s3_client
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.local import credentials_env


def signed_requests(client: Any) -> list[dict[str, str]]:
    """Collects the headers of every request `client` sends, after signing."""
    sent: list[dict[str, str]] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(dict(request.headers)))
    return sent


def _header(headers: dict[str, str], name: str) -> str:
    value = headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else value


def settings_with(block: AwsCredentials | None = None, **storage: Any) -> Settings:
    values = {"credentials_block": block, **storage}
    if block is not None and block.aws_client_parameters.endpoint_url:
        values["aws_endpoint_url"] = block.aws_client_parameters.endpoint_url  # as resolve_credentials derives it
    return Settings().updated(storage=values)


def test_a_block_with_a_session_token_and_client_parameters_signs_every_request(s3_emulator: S3Emulator) -> None:
    block = AwsCredentials(
        aws_access_key_id="AKIABLOCKKEY",
        aws_secret_access_key="block-secret",
        aws_session_token="block-session-token",
        region_name="eu-west-1",
        aws_client_parameters=AwsClientParameters(
            endpoint_url=s3_emulator.endpoint_url, config={"connect_timeout": 7, "retries": {"max_attempts": 2}}
        ),
    )
    settings = settings_with(block)
    s3 = make_s3_client(settings.storage)
    sent = signed_requests(s3)

    bucket = f"block-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")

    assert s3.meta.endpoint_url == s3_emulator.endpoint_url and s3.meta.region_name == "eu-west-1"
    assert s3.meta.config.connect_timeout == 7  # the block's botocore config ...
    assert s3.meta.config.retries["total_max_attempts"] == 3  # ... wins over our default (botocore counts +1)
    assert s3.meta.config.s3 == {"addressing_style": "path"}  # and our emulator need stays underneath
    assert all("Credential=AKIABLOCKKEY/" in _header(headers, "Authorization") for headers in sent)
    assert all(_header(headers, "X-Amz-Security-Token") == "block-session-token" for headers in sent)
    assert make_glue_client(settings.storage).meta.region_name == "eu-west-1"
    env = credentials_env(settings)
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"], env["AWS_REGION"]) == (
        "AKIABLOCKKEY",
        "block-session-token",
        settings.storage.aws_region,
    )


def test_a_block_naming_a_profile_gives_that_profiles_keys_to_clients_and_spark(
    s3_emulator: S3Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text("[ecom-worker]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = p-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    block = AwsCredentials(
        profile_name="ecom-worker", aws_client_parameters=AwsClientParameters(endpoint_url=s3_emulator.endpoint_url)
    )
    settings = settings_with(block)
    s3 = make_s3_client(settings.storage)
    sent = signed_requests(s3)

    s3.list_buckets()

    assert "Credential=AKIAPROFILEKEY/" in _header(sent[0], "Authorization")
    env = credentials_env(settings)
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("AKIAPROFILEKEY", "p-secret")
    assert "AWS_SESSION_TOKEN" not in env


def test_a_block_that_assumes_a_role_hands_its_temporary_keys_to_spark(
    s3_emulator: S3Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_emulator.endpoint_url)  # the STS call of the assume-role goes to moto
    block = AwsCredentials(
        aws_access_key_id="AKIABASEKEY",
        aws_secret_access_key="base-secret",
        region_name="us-east-1",
        assume_role_arn="arn:aws:iam::123456789012:role/ecom-worker",
    )

    env = credentials_env(settings_with(block))

    assert env["AWS_ACCESS_KEY_ID"] not in ("AKIABASEKEY", "") and env["AWS_SESSION_TOKEN"]


def test_without_a_block_the_settings_keys_and_session_token_sign_the_requests(s3_emulator: S3Emulator) -> None:
    settings = Settings().updated(
        storage={
            "aws_endpoint_url": s3_emulator.endpoint_url,
            "aws_access_key_id": SecretStr("AKIASETTINGSKEY"),
            "aws_secret_access_key": SecretStr("settings-secret"),
            "aws_session_token": SecretStr("settings-session-token"),
        }
    )
    s3 = make_s3_client(settings.storage)
    sent = signed_requests(s3)

    s3.list_buckets()

    assert "Credential=AKIASETTINGSKEY/" in _header(sent[0], "Authorization")
    assert _header(sent[0], "X-Amz-Security-Token") == "settings-session-token"
    assert credentials_env(settings)["AWS_SESSION_TOKEN"] == "settings-session-token"
