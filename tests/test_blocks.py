"""Prefect blocks of the aws profile: saved from settings, updated in place, loaded back as credentials objects.

The environment wins over a block, value by value (all three sources at once: tests/test_secret_store.py).
"""

from __future__ import annotations

import pytest
from log_capture import every_logger_at_debug
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import BlockDocumentUpdate
from prefect_aws import AwsCredentials, S3Bucket
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials
from pydantic import SecretStr
from typer.testing import CliRunner

from ecom_cli.app import app
from ecom_pipeline.credentials.blocks import block_names, upsert_blocks
from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings

AWS_SECRET = "aws-secret-Zq81xV"
SNOWFLAKE_PASSWORD = "sf-password-Pw77kd"


@pytest.fixture
def worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose environment sets no AWS keys or region (tests/conftest.py sets both for the emulators)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


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
            "aws_session_token": SecretStr("session-token-Tk5"),
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
    with every_logger_at_debug(caplog):
        upsert_blocks(aws_settings(), prefix="sec", store_aws_keys=True)
        aws = AwsCredentials.load("sec-aws-credentials")
        raw = S3Bucket.load("sec-raw")
        connector = SnowflakeConnector.load("sec-snowflake")

    assert isinstance(aws.aws_secret_access_key, SecretStr)
    assert aws.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert aws.aws_session_token == "session-token-Tk5"
    assert aws.aws_client_parameters.endpoint_url == "http://127.0.0.1:9"
    assert raw.credentials.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert (raw.bucket_name, raw.bucket_folder) == ("acme-raw", "dummyjson")
    assert (connector.database, connector.schema_, connector.warehouse) == ("SALES", "MARTS", "LOAD_WH")
    assert isinstance(connector.credentials.password, SecretStr)
    for shown in (repr(aws), repr(raw), repr(connector), caplog.text):
        assert AWS_SECRET not in shown
        assert SNOWFLAKE_PASSWORD not in shown
    assert "sec-aws-credentials" in caplog.text


def test_settings_from_blocks_fill_names_and_credentials(prefect_harness: None, worker_environment: None) -> None:
    upsert_blocks(aws_settings(raw_bucket="from-block-raw"), prefix="load", store_aws_keys=True)
    environment_only = Settings()

    loaded = resolve_credentials(environment_only, "load")

    storage, snowflake = loaded.storage, loaded.snowflake
    assert (storage.raw_bucket, storage.curated_bucket) == ("from-block-raw", "acme-curated")
    assert (storage.aws_region, storage.aws_endpoint_url) == ("eu-west-1", "http://127.0.0.1:9")
    block = storage.credentials_block
    assert isinstance(block, AwsCredentials)  # the credentials object itself: every client comes from it
    assert (block.aws_access_key_id, block.aws_session_token) == ("AKIAEXAMPLEKEY", "session-token-Tk5")
    assert block.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert snowflake.password is not None and snowflake.password.get_secret_value() == SNOWFLAKE_PASSWORD
    assert (snowflake.account, snowflake.user, snowflake.role) == ("acme-xy12345", "loader", "LOADER")
    assert (snowflake.database, snowflake.schema_name, snowflake.warehouse) == ("SALES", "MARTS", "LOAD_WH")
    connections = snowflake.credentials_block  # what hands out every connection: the block's sign-in and names
    assert isinstance(connections, SnowflakeCredentials) and connections.password is not None
    assert (connections.password.get_secret_value(), connections.user) == (SNOWFLAKE_PASSWORD, "loader")
    # Non-block settings are the environment's; the input is not modified.
    assert loaded.run_date == environment_only.run_date
    assert environment_only.storage.raw_bucket == Settings().storage.raw_bucket
    assert environment_only.storage.credentials_block is None


def test_the_environment_wins_over_a_block_value_by_value(
    prefect_harness: None, worker_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert_blocks(aws_settings(), prefix="prec")
    for name, value in {
        "ECOM_RAW_BUCKET": "env-raw",
        "AWS_REGION": "ap-south-1",
        "AWS_ACCESS_KEY_ID": "AKIAFROMENV",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "SNOWFLAKE_ROLE": "ENV_ROLE",
        "SNOWFLAKE_PASSWORD": "env-password",
    }.items():
        monkeypatch.setenv(name, value)

    loaded = resolve_credentials(Settings(), "prec")

    storage, snowflake = loaded.storage, loaded.snowflake
    assert (storage.raw_bucket, storage.curated_bucket) == ("env-raw", "acme-curated")
    block = storage.credentials_block
    assert (block.region_name, block.aws_access_key_id, block.aws_session_token) == ("ap-south-1", "AKIAFROMENV", None)
    assert block.aws_client_parameters.endpoint_url == "http://127.0.0.1:9"  # the environment sets none: the block's
    assert (snowflake.role, snowflake.user) == ("ENV_ROLE", "loader")
    assert snowflake.password.get_secret_value() == "env-password"
    assert snowflake.credentials_block.password.get_secret_value() == "env-password"  # what the connections use


def test_settings_unchanged_without_blocks(prefect_harness: None) -> None:
    settings = aws_settings()

    loaded = resolve_credentials(settings, "absent")

    assert loaded.model_dump() == settings.model_dump() and loaded.storage.credentials_block is None


def test_some_blocks_only_fill_their_own_values(
    prefect_harness: None, worker_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    S3Bucket(bucket_name="only-curated", bucket_folder="orders/", credentials=AwsCredentials()).save(
        "part-curated", overwrite=True
    )
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", SNOWFLAKE_PASSWORD)
    settings = Settings()

    loaded = resolve_credentials(settings, "part")

    assert loaded.storage.curated_bucket == "only-curated"
    assert loaded.storage.curated_prefix == "orders"
    assert loaded.storage.raw_bucket == settings.storage.raw_bucket
    assert loaded.storage.credentials_block is None  # the bucket carries no credentials of its own
    assert loaded.snowflake.model_dump() == settings.snowflake.model_dump()


def test_a_bucket_blocks_credentials_serve_when_there_is_no_credentials_block(
    prefect_harness: None, worker_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    carried = AwsCredentials(profile_name="ecom-worker", region_name="eu-central-1")
    S3Bucket(bucket_name="raw-zone", credentials=carried).save("own-raw", overwrite=True)
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", SNOWFLAKE_PASSWORD)

    loaded = resolve_credentials(Settings(), "own")

    assert loaded.storage.credentials_block.profile_name == "ecom-worker"
    assert loaded.storage.aws_region == "eu-central-1"


def test_a_block_that_cannot_load_is_an_error_naming_it(prefect_harness: None) -> None:
    SnowflakeCredentials(account="acme", user="loader", password=SecretStr("bad-block-Pw3")).save(
        "broken-snowflake-credentials", overwrite=True
    )
    document_id = SnowflakeCredentials.load("broken-snowflake-credentials")._block_document_id
    with get_client(sync_client=True) as client:  # as if saved by an older or hand-edited schema: no user
        client.update_block_document(
            document_id,
            BlockDocumentUpdate(data={"account": "acme", "password": "bad-block-Pw3"}, merge_existing_data=False),
        )

    with pytest.raises(ConfigError) as raised:
        resolve_credentials(Settings(), "broken")

    message = str(raised.value)
    assert "'broken-snowflake-credentials' (snowflake-credentials) exists but cannot be loaded" in message
    assert "bad-block-Pw3" not in message and raised.value.__cause__ is None and raised.value.__suppress_context__


def test_upsert_saves_the_key_pair_as_secrets_and_a_bad_key_is_refused(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snowflake_login import make_key_pair

    key_pair = make_key_pair("block-passphrase-Bp2")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", key_pair.private_pem)
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "block-passphrase-Bp2")
    upsert_blocks(Settings(), prefix="kp")
    saved = SnowflakeCredentials.load("kp-snowflake-credentials")
    assert saved.private_key.get_secret_value().decode() == key_pair.private_pem.strip()
    assert saved.private_key_passphrase.get_secret_value() == "block-passphrase-Bp2"
    assert saved.password is None and saved.resolve_private_key()  # prefect-snowflake itself opens it
    assert "block-passphrase-Bp2" not in repr(saved)

    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "wrong-Bp2")
    with pytest.raises(ConfigError, match="SNOWFLAKE_PRIVATE_KEY is not a PEM private key"):
        upsert_blocks(Settings(), prefix="kp")


def test_a_block_without_a_sign_in_value_is_still_valid(prefect_harness: None) -> None:
    """The key then comes from the environment or Secrets Manager at run time."""
    upsert_blocks(aws_settings().updated(snowflake={"password": None}), prefix="nokey")

    saved = SnowflakeCredentials.load("nokey-snowflake-credentials")

    assert saved.authenticator == "snowflake" and saved.password is None and saved.private_key is None


def test_blocks_store_no_aws_keys_from_the_environment_unless_asked(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/aws.md step 8 runs `blocks` in an administrator's shell: its keys must not become every run's identity."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAADMINSHELL",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_SESSION_TOKEN": "admin-sso-token-Tk9",
        "AWS_REGION": "eu-west-1",
        "SNOWFLAKE_ACCOUNT": "acme-xy12345",
        "SNOWFLAKE_USER": "loader",
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    default = runner.invoke(app, ["blocks", "--prefix", "nokeys"], env={"COLUMNS": "400"})
    without_keys = AwsCredentials.load("nokeys-aws-credentials")
    asked = runner.invoke(app, ["blocks", "--prefix", "withkeys", "--store-aws-keys"], env={"COLUMNS": "400"})
    with_keys = AwsCredentials.load("withkeys-aws-credentials")

    assert default.exit_code == 0 and asked.exit_code == 0, default.output + asked.output
    assert (without_keys.aws_access_key_id, without_keys.aws_secret_access_key) == (None, None)
    assert without_keys.aws_session_token is None and without_keys.region_name == "eu-west-1"
    assert S3Bucket.load("nokeys-raw").credentials.aws_access_key_id is None
    assert "nokeys-aws-credentials: no AWS keys (this shell's AWS keys were not stored); runs use the worker's " in (
        default.output
    )
    assert (with_keys.aws_access_key_id, with_keys.aws_session_token) == ("AKIAADMINSHELL", "admin-sso-token-Tk9")
    assert with_keys.aws_secret_access_key.get_secret_value() == AWS_SECRET
    assert "withkeys-aws-credentials: stores this shell's AWS keys (--store-aws-keys)" in asked.output
    for output in (default.output, asked.output):
        assert AWS_SECRET not in output and "admin-sso-token-Tk9" not in output
