"""Prefect blocks of the aws profile: saved from settings, updated in place, loaded back into settings."""

from __future__ import annotations

import logging

import pytest
from prefect.client.orchestration import get_client
from prefect_aws import AwsCredentials, S3Bucket
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials
from pydantic import SecretStr

from ecom_pipeline.blocks import block_names, load_settings_from_blocks, upsert_blocks
from ecom_pipeline.settings import Settings

AWS_SECRET = "aws-secret-Zq81xV"
SNOWFLAKE_PASSWORD = "sf-password-Pw77kd"


def aws_settings(raw_bucket: str = "acme-raw", password: str = SNOWFLAKE_PASSWORD) -> Settings:
    """Settings as the aws profile would read them from the environment."""
    return Settings().updated(
        storage={
            "raw_bucket": raw_bucket,
            "curated_bucket": "acme-curated",
            "raw_prefix": "dummyjson",
            "curated_prefix": "orders",
            "aws_region": "eu-west-1",
            "aws_endpoint_url": "http://127.0.0.1:9",
            "aws_access_key_id": SecretStr("AKIAEXAMPLEKEY"),
            "aws_secret_access_key": SecretStr(AWS_SECRET),
        },
        snowflake={
            "account": "acme-xy12345",
            "user": "loader",
            "password": SecretStr(password),
            "role": "LOADER",
            "database": "SALES",
            "schema_name": "MARTS",
            "warehouse": "LOAD_WH",
        },
    )


def _count_documents(block_type_slug: str, name: str) -> int:
    with get_client(sync_client=True) as client:
        documents = client.read_block_documents()
    return sum(1 for doc in documents if doc.block_type.slug == block_type_slug and doc.name == name)


def test_upsert_twice_updates_the_same_blocks(prefect_harness: None) -> None:
    first = upsert_blocks(aws_settings(), prefix="upd")
    second = upsert_blocks(aws_settings(raw_bucket="acme-raw-v2", password="changed-Pw"), prefix="upd")

    assert first == second == list(block_names("upd").values())
    assert _count_documents("s3-bucket", "upd-raw") == 1
    assert _count_documents("aws-credentials", "upd-aws-credentials") == 1
    assert S3Bucket.load("upd-raw").bucket_name == "acme-raw-v2"
    assert SnowflakeCredentials.load("upd-snowflake-credentials").password.get_secret_value() == "changed-Pw"


def test_blocks_load_back_with_secrets_hidden(prefect_harness: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        upsert_blocks(aws_settings(), prefix="sec")
        aws = AwsCredentials.load("sec-aws-credentials")
        raw = S3Bucket.load("sec-raw")
        connector = SnowflakeConnector.load("sec-snowflake")

    assert isinstance(aws.aws_secret_access_key, SecretStr)
    assert aws.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert aws.aws_client_parameters.endpoint_url == "http://127.0.0.1:9"
    assert raw.credentials.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert (raw.bucket_name, raw.bucket_folder) == ("acme-raw", "dummyjson")
    assert (connector.database, connector.schema_, connector.warehouse) == ("SALES", "MARTS", "LOAD_WH")
    assert isinstance(connector.credentials.password, SecretStr)
    for shown in (repr(aws), repr(raw), repr(connector), caplog.text):
        assert AWS_SECRET not in shown
        assert SNOWFLAKE_PASSWORD not in shown
    assert "sec-aws-credentials" in caplog.text


def test_settings_from_blocks_fill_names_and_credentials(prefect_harness: None) -> None:
    upsert_blocks(aws_settings(raw_bucket="from-block-raw"), prefix="load")
    environment_only = Settings()

    loaded = load_settings_from_blocks(environment_only, prefix="load")

    assert loaded.storage.raw_bucket == "from-block-raw"
    assert loaded.storage.curated_bucket == "acme-curated"
    assert loaded.storage.aws_region == "eu-west-1"
    assert loaded.storage.aws_endpoint_url == "http://127.0.0.1:9"
    assert loaded.storage.aws_secret_access_key is not None
    assert loaded.storage.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert loaded.storage.aws_access_key_id is not None
    assert loaded.storage.aws_access_key_id.get_secret_value() == "AKIAEXAMPLEKEY"
    assert loaded.snowflake.password.get_secret_value() == SNOWFLAKE_PASSWORD
    assert (loaded.snowflake.account, loaded.snowflake.user, loaded.snowflake.role) == (
        "acme-xy12345",
        "loader",
        "LOADER",
    )
    assert (loaded.snowflake.database, loaded.snowflake.schema_name, loaded.snowflake.warehouse) == (
        "SALES",
        "MARTS",
        "LOAD_WH",
    )
    # Non-block settings are the environment's; the input is not modified.
    assert loaded.run_date == environment_only.run_date
    assert environment_only.storage.raw_bucket == Settings().storage.raw_bucket


def test_settings_unchanged_without_blocks(prefect_harness: None) -> None:
    settings = aws_settings()

    assert load_settings_from_blocks(settings, prefix="absent") == settings


def test_some_blocks_only_fill_their_own_values(prefect_harness: None) -> None:
    S3Bucket(bucket_name="only-curated", bucket_folder="orders/", credentials=AwsCredentials()).save(
        "part-curated", overwrite=True
    )
    settings = aws_settings()

    loaded = load_settings_from_blocks(settings, prefix="part")

    assert loaded.storage.curated_bucket == "only-curated"
    assert loaded.storage.curated_prefix == "orders"
    assert loaded.storage.raw_bucket == settings.storage.raw_bucket
    assert loaded.snowflake == settings.snowflake
