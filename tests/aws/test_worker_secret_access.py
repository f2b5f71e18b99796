"""With IAM enforced, the worker's role reads the pipeline's secret and no other (issue 17's acceptance).

The grant is the template's (`ReadPipelineSecret`: the secret's name plus Secrets Manager's six-character suffix,
https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html); the emulator checks it
against the secret's ARN. The pipeline's own reader (`ecom_pipeline.credentials.secret_store`) is used with the
worker's keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_stack import client
from iam_emulator import IamEmulator

from ecom_pipeline.credentials.secret_store import read_secret
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings

SECRETS = {
    "ecom/pipeline": json.dumps({"snowflake_password": "pipeline-value-7f3a"}),
    "ecom/pipeline-admin": json.dumps({"snowflake_password": "admin-value-91c2"}),  # a name the pattern must not take
    "ecom/other": json.dumps({"snowflake_password": "other-value-5d0e"}),
}


def worker_settings(endpoint_url: str, keys: dict[str, str], secret_id: str) -> Settings:
    """aws-profile settings with the worker's temporary keys and `secret_id`."""
    from pydantic import SecretStr

    return Settings().updated(
        top={"profile": "aws", "secret_id": secret_id},
        storage={
            "aws_endpoint_url": endpoint_url,
            "aws_access_key_id": SecretStr(keys["aws_access_key_id"]),
            "aws_secret_access_key": SecretStr(keys["aws_secret_access_key"]),
            "aws_session_token": SecretStr(keys["aws_session_token"]),
        },
    )


def test_the_worker_reads_the_named_secret_and_is_denied_any_other(deploy: Any, iam_emulator: IamEmulator) -> None:
    stack = deploy(SECRETS)
    keys = stack.worker_keys()
    url = iam_emulator.endpoint_url

    values = read_secret(worker_settings(url, keys, "ecom/pipeline"))
    assert values["snowflake_password"].get_secret_value() == "pipeline-value-7f3a"
    assert iam_emulator.denials() == []

    for other in ("ecom/other", "ecom/pipeline-admin"):
        with pytest.raises(ConfigError) as error:
            read_secret(worker_settings(url, keys, other))
        assert "AccessDenied" in str(error.value) and repr(other) in str(error.value)
    denied = iam_emulator.denials()
    assert len(denied) == 2 and all("secretsmanager:GetSecretValue" in line for line in denied)
    assert "secret:ecom/other-" in denied[0] and "secret:ecom/pipeline-admin-" in denied[1]


def test_other_identities_of_the_stack_cannot_read_the_secret(deploy: Any, iam_emulator: IamEmulator) -> None:
    stack = deploy(SECRETS)
    snowflake = client("secretsmanager", iam_emulator.endpoint_url, stack.snowflake_keys())
    with pytest.raises(snowflake.exceptions.ClientError, match="AccessDenied"):
        snowflake.get_secret_value(SecretId="ecom/pipeline")  # pragma: allowlist secret - a name
