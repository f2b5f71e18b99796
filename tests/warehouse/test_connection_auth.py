"""Snowflake sign-in through the same `connect()` as on Snowflake: key pair, programmatic access token, block.

The emulator accepts any credentials, so a recording proxy in front of it (tests/snowflake_login.py) shows
what the connector really sent; the key-pair JWT is verified with the generated public key.

| contract | source |
|---|---|
| key pair: `authenticator="SNOWFLAKE_JWT"`, `private_key` as DER bytes | https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-connect, connector 4.8 `connection.py` (`AuthByKeyPair`) |
| PAT: `authenticator="PROGRAMMATIC_ACCESS_TOKEN"`, `token` | https://docs.snowflake.com/en/user-guide/programmatic-access-tokens, connector 4.8 `connection.py` (`AuthByPAT`) |
| a credentials block hands out the connection | prefect-snowflake 0.28 `SnowflakeCredentials.get_client` |
"""  # noqa: E501

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from log_capture import every_logger_at_debug
from prefect_snowflake import SnowflakeCredentials
from pydantic import SecretBytes, SecretStr
from snowflake_login import KeyPair, LoginRecorder, make_key_pair, verified_jwt_claims

from ecom_pipeline.credentials.blocks import upsert_blocks
from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings, SnowflakeSettings, load_settings
from ecom_pipeline.warehouse.connection import connect, connect_kwargs

PASSPHRASE = f"pp-{uuid.uuid4().hex}"
TOKEN = f"pat-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def key_pair() -> KeyPair:
    """An encrypted key pair, generated for this module."""
    return make_key_pair(PASSPHRASE)


@pytest.fixture
def proxy(fakesnow_emulator: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[LoginRecorder]:
    """The environment of a real account, except that the host is the recording proxy in front of the emulator.

    No SNOWFLAKE_EMULATOR: the connection takes exactly the path it takes on Snowflake.
    """
    with LoginRecorder(fakesnow_emulator[1]) as recorder:
        for name, value in {
            "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(recorder.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_ACCOUNT": "acme-xy12345",
            "SNOWFLAKE_USER": "etl_service",
        }.items():
            monkeypatch.setenv(name, value)
        yield recorder


def _everything_shown(settings: Settings, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([caplog.text, repr(settings), str(settings), settings.model_dump_json()])


def test_key_pair_from_a_file_signs_the_login_with_that_key(
    proxy: LoginRecorder, key_pair: KeyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    key_file = tmp_path / "rsa_key.p8"
    key_file.write_text(key_pair.private_pem)
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", PASSPHRASE)

    with every_logger_at_debug(caplog):
        settings = resolve_credentials(load_settings())
        with connect(settings.snowflake) as warehouse:
            rows = warehouse.execute("select 41 + 1")

    assert rows == [(42,)]
    [login] = proxy.logins
    claims = verified_jwt_claims(login, key_pair.public_key)
    assert claims["sub"] == "ACME-XY12345.ETL_SERVICE"
    assert claims["iss"].startswith("ACME-XY12345.ETL_SERVICE.SHA256:")
    assert not login.get("PASSWORD")
    shown = _everything_shown(settings, caplog)
    assert any(record.name.startswith("snowflake.connector") for record in caplog.records)  # it saw the connector
    assert [fragment for fragment in key_pair.secret_fragments if fragment in shown] == []


def test_programmatic_access_token_travels_as_a_token(
    proxy: LoginRecorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SNOWFLAKE_TOKEN", TOKEN)

    with every_logger_at_debug(caplog):
        settings = resolve_credentials(load_settings())
        with connect(settings.snowflake) as warehouse:
            assert warehouse.execute("select 1") == [(1,)]

    [login] = proxy.logins
    assert (login["AUTHENTICATOR"], login["TOKEN"]) == ("PROGRAMMATIC_ACCESS_TOKEN", TOKEN)
    assert not login.get("PASSWORD")
    assert TOKEN not in _everything_shown(settings, caplog)


def test_a_credentials_block_hands_out_the_connection_with_the_saved_key(
    prefect_harness: None, proxy: LoginRecorder, key_pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key as CI secrets often hold it: one line, with `\n` for the line breaks.
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", key_pair.private_pem.replace("\n", "\\n"))
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", PASSPHRASE)
    upsert_blocks(load_settings(), prefix="keypair")
    for name in ("SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER"):
        monkeypatch.delenv(name)  # the worker's environment holds none of them: the block does

    saved = SnowflakeCredentials.load("keypair-snowflake-credentials")
    settings = resolve_credentials(load_settings(), "keypair")
    with connect(settings.snowflake) as warehouse:
        assert warehouse.execute("select 1") == [(1,)]

    assert isinstance(saved.private_key, SecretBytes) and isinstance(saved.private_key_passphrase, SecretStr)
    [login] = proxy.logins
    assert verified_jwt_claims(login, key_pair.public_key)["sub"] == "ACME-XY12345.ETL_SERVICE"
    assert login["CLIENT_ENVIRONMENT"]["APPLICATION"] == "Prefect_Snowflake_Collection"  # the block's get_client


def _resolved(**values: object) -> SnowflakeSettings:
    """Warehouse settings with `values` as the environment's, every source applied (none other here)."""
    return resolve_credentials(Settings(snowflake=SnowflakeSettings(**values))).snowflake


def test_two_methods_at_once_name_both_settings_and_no_value() -> None:
    with pytest.raises(ConfigError) as raised:
        _resolved(password=SecretStr("pw-Zk31"), private_key_file=Path("/keys/rsa.p8"))
    message = str(raised.value)
    assert "SNOWFLAKE_PRIVATE_KEY_FILE and SNOWFLAKE_PASSWORD are both set" in message
    assert "pw-Zk31" not in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key-Qw9\n-----END PRIVATE KEY-----"},
            "SNOWFLAKE_PRIVATE_KEY is not a PEM private key",
        ),
        ({"private_key_passphrase": "orphan-Pp1"}, "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is set but no private key is"),
        (
            {"private_key_file": "/nonexistent/rsa_key.p8"},
            "SNOWFLAKE_PRIVATE_KEY_FILE: cannot read /nonexistent/rsa_key.p8",
        ),
        ({"authenticator": "SNOWFLAKE_JWT"}, "SNOWFLAKE_AUTHENTICATOR is SNOWFLAKE_JWT but no private key is set"),
        ({}, "no Snowflake credentials: set one of SNOWFLAKE_PRIVATE_KEY_FILE"),
    ],
)
def test_unusable_sign_in_settings_are_named_never_quoted(values: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _resolved(**values)
    assert expected in str(raised.value)
    for value in values.values():
        if value != "SNOWFLAKE_JWT" and not value.startswith("/"):
            assert value not in str(raised.value)


def test_a_wrong_or_missing_passphrase_is_named(key_pair: KeyPair) -> None:
    key = SecretStr(key_pair.private_pem)
    with pytest.raises(ConfigError, match="is encrypted: set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"):
        _resolved(private_key=key)
    with pytest.raises(ConfigError, match="not a PEM private key that SNOWFLAKE_PRIVATE_KEY_PASSPHRASE opens"):
        _resolved(private_key=key, private_key_passphrase=SecretStr("wrong-passphrase"))


def test_the_emulator_password_applies_only_when_no_method_is_set(key_pair: KeyPair) -> None:
    plain = _resolved(emulator=True)
    assert plain.credentials_block is None and connect_kwargs(plain)["password"] == "local"
    with_key = _resolved(emulator=True, private_key=SecretStr(key_pair.private_pem), private_key_passphrase=PASSPHRASE)
    assert connect_kwargs(with_key)["authenticator"] == "SNOWFLAKE_JWT" and "password" not in connect_kwargs(with_key)
    assert with_key.credentials_block.resolve_private_key()  # prefect-snowflake opens the key for each connection
    with_password = _resolved(emulator=True, password=SecretStr("mine"))
    assert with_password.credentials_block.password.get_secret_value() == "mine"
    assert "password" not in connect_kwargs(with_password)  # the credentials hold it, not the arguments


def test_a_snowflake_session_is_in_utc_and_tagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The curated timestamps are UTC instants: in Snowflake's default TIMEZONE (America/Los_Angeles) a load would
    turn them into Pacific wall clocks in `orders.ingested_at` (TIMESTAMP_NTZ)."""
    sign_in = SecretStr("not-a-real-one")  # pragma: allowlist secret
    sf = SnowflakeSettings(account="myorg-myaccount", user="ECOM_PIPELINE", password=sign_in)
    assert connect_kwargs(sf)["session_parameters"] == {"QUERY_TAG": "ecom-pipeline", "TIMEZONE": "UTC"}
