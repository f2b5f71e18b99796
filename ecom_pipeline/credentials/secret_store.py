"""Secrets from AWS Secrets Manager: one JSON secret named by `ECOM_SECRET_ID`, read once at the start of a run.

The secret is a JSON object (a `SecretString`); every key is optional, and a key not listed here is an error:

| key | fills |
|---|---|
| `snowflake_private_key` | `SNOWFLAKE_PRIVATE_KEY` (PEM text) |
| `snowflake_private_key_passphrase` | `SNOWFLAKE_PRIVATE_KEY_PASSPHRASE` |
| `snowflake_token` | `SNOWFLAKE_TOKEN` (a programmatic access token) |
| `snowflake_password` | `SNOWFLAKE_PASSWORD` |
| `failure_webhook_url` | `ECOM_FAILURE_WEBHOOK_URL` |

It is one of the sources of the run's settings (docs/prefect.md#where-values-come-from): `credentials.py` reads it
once at the start of each flow run and of each CLI command that signs in to Snowflake, through `aws.py` (the run's
endpoint and identity), so a rotated secret is used by the next run without restarting a worker. The values live
only in that run's Settings, as SecretStr (masked in every repr, excluded from the run summary and the flow's
parameters). A missing secret, a key we do not know or an empty value fails at once, with no retry, in one line
naming the secret and the key, never the value. The worker needs `secretsmanager:GetSecretValue` on this secret
(and `kms:Decrypt` when a customer-managed key encrypts it): see `infra/` and docs/aws.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from ecom_pipeline.aws import make_secrets_client
from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import Settings, SourcedValue, fill_unset

logger = logging.getLogger("ecom_pipeline.credentials.secret_store")

# secret key -> (settings group, field); "top" is the Settings object itself.
SECRET_KEYS: dict[str, tuple[str, str]] = {
    "snowflake_private_key": ("snowflake", "private_key"),
    "snowflake_private_key_passphrase": ("snowflake", "private_key_passphrase"),
    "snowflake_token": ("snowflake", "token"),
    "snowflake_password": ("snowflake", "password"),
    "failure_webhook_url": ("top", "failure_webhook_url"),
}


class _ThreadMute(logging.Filter):
    """Drops the records a logger emits from the threads in `threads`."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.threads


_MUTES: dict[str, _ThreadMute] = {}
_MUTES_LOCK = threading.Lock()


@contextmanager
def muted(*logger_names: str) -> Iterator[None]:
    """Drop what these loggers log from this thread meanwhile: at DEBUG they print request or response bodies.

    botocore logs every response body (`botocore.parsers`, a secret's JSON included), urllib3 every request line
    (a webhook URL's token included). Other threads log as usual.
    """
    with _MUTES_LOCK:
        mutes = []
        for name in logger_names:
            if name not in _MUTES:
                _MUTES[name] = _ThreadMute()
                logging.getLogger(name).addFilter(_MUTES[name])
            mutes.append(_MUTES[name])
    thread = threading.get_ident()
    for mute in mutes:
        mute.threads.add(thread)
    try:
        yield
    finally:
        for mute in mutes:
            mute.threads.discard(thread)


def _where(secret_id: str) -> str:
    return f"secret {secret_id!r} (ECOM_SECRET_ID)"


def read_secret(settings: Settings) -> dict[str, SecretStr]:
    """Read and check the secret `settings.secret_id` names: key -> value, each a SecretStr.

    Raises:
        ConfigError: no such secret, access denied, not a JSON object, an unknown key or an empty value.
        PipelineError: Secrets Manager unreachable after boto3's own retries (not transient: the budget is spent).
    """
    secret_id, where = settings.secret_id, _where(settings.secret_id)
    # Every `from None` below: a parser's or client's exception chain must not carry the secret into a traceback.
    try:
        with muted("botocore.parsers", "botocore.endpoint"):
            response = make_secrets_client(settings.storage).get_secret_value(SecretId=secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        problem = "not found" if code == "ResourceNotFoundException" else f"cannot be read ({code})"
        raise ConfigError(f"{where} {problem}") from None
    except BotoCoreError as error:
        raise PipelineError(f"{where} cannot be read: {type(error).__name__}", transient=False) from None
    valid = ", ".join(SECRET_KEYS)
    try:
        data = json.loads(response.get("SecretString") or "")
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object (SecretString) with some of the keys {valid}") from None
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}; valid keys: {valid}")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: key {key!r} must be a non-empty string")
    logger.info("read %s: key(s) %s", where, ", ".join(sorted(data)))  # names only, never values
    return {key: SecretStr(value) for key, value in data.items()}


def from_secret(settings: Settings, values: Mapping[str, SecretStr]) -> list[SourcedValue]:
    """Each key the secret may hold, as a settings value named by key and secret (None where the secret has none)."""
    return [
        SourcedValue(group, field, values.get(key), f"key {key!r} of secret {settings.secret_id!r}")
        for key, (group, field) in SECRET_KEYS.items()
    ]


def apply_secret(settings: Settings, values: Mapping[str, SecretStr]) -> Settings:
    """`settings` with each secret value that no earlier source (environment, block) set."""
    return fill_unset(settings, from_secret(settings, values))[0]


def secret_values(settings: Settings) -> list[str]:
    """Every secret value `settings` hold (AWS keys, the credentials block's, Snowflake's, the webhook URL)."""
    storage, snowflake = settings.storage, settings.snowflake
    secrets: list[SecretStr | str | None] = [
        storage.aws_access_key_id,
        storage.aws_secret_access_key,
        storage.aws_session_token,
        snowflake.private_key,
        snowflake.private_key_passphrase,
        snowflake.token,
        snowflake.password,
        settings.failure_webhook_url,
    ]
    block = storage.credentials_block
    if block is not None:
        secrets += [getattr(block, "aws_secret_access_key", None), getattr(block, "aws_session_token", None)]
    values = [secret.get_secret_value() if isinstance(secret, SecretStr) else secret for secret in secrets]
    return [value for value in values if value]
