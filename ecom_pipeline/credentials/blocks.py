"""Prefect blocks of the `aws` profile: credentials objects that hand out the run's clients, and its names.

`upsert_blocks` saves five blocks from the current settings (`ecom-pipeline blocks`); a run of the aws profile
calls `load_settings_from_blocks` at its start. The AWS credentials block stores no AWS keys unless asked to
(`--store-aws-keys`): without keys, runs use the worker's default AWS credential chain (its instance profile).
Each block that exists is used as what it is:

- `ecom-aws-credentials` (AwsCredentials): every boto3 client and the Spark job's keys come from it (`aws.py`):
  its session honours keys, session token, profile and assumed role; its client parameters (endpoint, verify,
  CA bundle, `use_ssl`, API version, botocore config) apply to every client. Region and endpoint also reach
  the settings (Spark's s3a, the Snowflake emulator).
- `ecom-raw` / `ecom-curated` (S3Bucket): bucket and folder of each zone; their credentials when there is no
  credentials block.
- `ecom-snowflake-credentials` (SnowflakeCredentials): hands out every Snowflake connection (its `get_client`):
  account, user, role, endpoint, workload identity provider, autocommit. Its sign-in values (private key as
  bytes or path, passphrase, token, password, authenticator) join the settings' one-method check
  (`warehouse/auth.py`), where the environment's and the secret's are checked too.
- `ecom-snowflake` (SnowflakeConnector): database, schema, warehouse; its credentials when there is no
  credentials block. `fetch_size` and `poll_frequency_s` tune the block's own query helpers, unused here.

Precedence, for each value: the environment (a value set there, never a code default), then the block, then
the Secrets Manager secret (`secret_store.py`). A block that exists but cannot be loaded is a ConfigError naming
it; a missing block leaves the environment's values. Only block names are ever logged, never values.
"""

from __future__ import annotations

import logging
import typing
from typing import Any, TypeVar

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound
from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials
from pydantic import SecretBytes, SecretStr, ValidationError

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings, SnowflakeSettings, StorageSettings, validation_summary
from ecom_pipeline.warehouse.auth import one_method, pem_bytes, private_key_der

logger = logging.getLogger("ecom_pipeline.blocks")

BlockT = TypeVar("BlockT", bound=Block)

# SnowflakeCredentials field -> SnowflakeSettings field: the sign-in values, decided by the settings' precedence.
SNOWFLAKE_SIGN_IN = {
    **{field: field for field in ("private_key", "private_key_passphrase", "token", "password", "authenticator")},
    "private_key_path": "private_key_file",  # pragma: allowlist secret (field names)
}
SNOWFLAKE_NAMES = ("account", "user", "role")  # also names in the SQL (grants): copied to the settings
BLOCK_AUTHENTICATORS = typing.get_args(SnowflakeCredentials.model_fields["authenticator"].annotation)


def block_names(prefix: str = "ecom") -> dict[str, str]:
    """The name of each block for `prefix`, keyed by role."""
    return {
        "aws": f"{prefix}-aws-credentials",
        "raw": f"{prefix}-raw",
        "curated": f"{prefix}-curated",
        "snowflake_credentials": f"{prefix}-snowflake-credentials",
        "snowflake": f"{prefix}-snowflake",
    }


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _snowflake_credentials(sf: SnowflakeSettings) -> SnowflakeCredentials:
    """The SnowflakeCredentials block for `sf`: its one sign-in method, the key saved as a secret (PEM bytes)."""
    one_method(sf)
    values: dict[str, Any] = {"account": sf.account, "user": sf.user, "role": sf.role}
    if sf.private_key_file is not None or sf.private_key is not None:
        private_key_der(sf)  # a key that cannot be opened is refused here, not at the first run
        values["private_key"] = SecretBytes(pem_bytes(sf))  # workers then need no key file
        values["private_key_passphrase"] = sf.private_key_passphrase
    values.update(token=sf.token, password=sf.password)
    authenticator = (sf.authenticator or "").lower()
    if authenticator in BLOCK_AUTHENTICATORS:
        values["authenticator"] = authenticator
    elif not any(values.get(field) for field in SNOWFLAKE_SIGN_IN):
        # Valid without a secret of its own: the run then takes it from the environment or Secrets Manager.
        values["authenticator"] = "snowflake"
    try:
        return SnowflakeCredentials(**{key: value for key, value in values.items() if value is not None})
    except ValidationError as error:
        reason = validation_summary(error, "block")
        raise ConfigError(f"cannot build the Snowflake credentials block: {reason}") from None


def _aws_keys(storage: StorageSettings, store_aws_keys: bool) -> dict[str, Any]:
    """The AWS keys the credentials block keeps: none unless asked for (`--store-aws-keys`).

    `blocks` often runs in an administrator's shell (docs/aws.md, step 8): keys copied from there would replace the
    worker's own identity (its instance profile) on every scheduled run, and SSO keys expire. Without keys the
    block leaves boto3 its default credential chain on the worker.
    """
    if not store_aws_keys:
        return {}
    # prefect-aws keeps the key id and the session token as plain text (its design); the secret is a SecretStr.
    return {
        "aws_access_key_id": _plain(storage.aws_access_key_id),
        "aws_secret_access_key": storage.aws_secret_access_key,
        "aws_session_token": _plain(storage.aws_session_token),
    }


def build_blocks(settings: Settings, *, store_aws_keys: bool = False) -> dict[str, Block]:
    """The five blocks that describe `settings`' AWS and Snowflake side, keyed by role (not saved).

    The AWS credentials block carries the environment's AWS keys only with `store_aws_keys`; otherwise none.
    """
    storage, snowflake = settings.storage, settings.snowflake
    aws = AwsCredentials(
        **_aws_keys(storage, store_aws_keys),
        region_name=storage.aws_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=storage.aws_endpoint_url),
    )
    snowflake_credentials = _snowflake_credentials(snowflake)
    return {
        "aws": aws,
        "raw": S3Bucket(bucket_name=storage.raw_bucket, bucket_folder=storage.raw_prefix, credentials=aws),
        "curated": S3Bucket(bucket_name=storage.curated_bucket, bucket_folder=storage.curated_prefix, credentials=aws),
        "snowflake_credentials": snowflake_credentials,
        "snowflake": SnowflakeConnector(
            credentials=snowflake_credentials,
            database=snowflake.database,
            schema=snowflake.schema_name,
            warehouse=snowflake.warehouse,
        ),
    }


def upsert_blocks(settings: Settings, prefix: str = "ecom", *, store_aws_keys: bool = False) -> list[str]:
    """Create or overwrite the aws profile's blocks from `settings`; return their names in save order.

    Credentials are saved first so the bucket and connector blocks reference them instead of copying them. The
    AWS credentials block stores the settings' AWS keys only with `store_aws_keys` (see `_aws_keys`).
    """
    names = block_names(prefix)
    saved: list[str] = []
    for role, block in build_blocks(settings, store_aws_keys=store_aws_keys).items():
        block.save(names[role], overwrite=True, _sync=True)  # sync even if a caller has an event loop
        logger.info("saved %s block %r", block.get_block_type_slug(), names[role])
        saved.append(names[role])
    return saved


def _load_optional(block_type: type[BlockT], name: str) -> BlockT | None:
    """Load a block by name; None when none of that name exists, a ConfigError naming it when it cannot load."""
    slug = block_type.get_block_type_slug()
    try:
        block = block_type.load(name, _sync=True)
    except Exception as error:  # every failure but "not found" is reported, naming the block
        if isinstance(error, ValueError) and isinstance(error.__cause__, ObjectNotFound):
            logger.debug("no %s block %r; keeping the environment's values", slug, name)
            return None
        cause = error.__cause__ if isinstance(error.__cause__, ValidationError) else error
        reason = validation_summary(cause, "block") if isinstance(cause, ValidationError) else f"{type(error).__name__}"
        # `from None`: a validation error's chain quotes the block's data, secrets included.
        raise ConfigError(f"Prefect block {name!r} ({slug}) exists but cannot be loaded: {reason}") from None
    logger.info("using %s block %r", slug, name)
    return block


def _aws_block(names: dict[str, str], buckets: list[S3Bucket]) -> AwsCredentials | None:
    """The credentials block, else the buckets' own credentials (one identity for the run)."""
    if block := _load_optional(AwsCredentials, names["aws"]):
        return block
    default = AwsCredentials().model_dump()
    carried = [bucket.credentials for bucket in buckets if bucket.credentials.model_dump() != default]
    if len(carried) == 2 and carried[0].model_dump() != carried[1].model_dump():
        raise ConfigError(
            f"blocks {names['raw']!r} and {names['curated']!r} carry different AWS credentials; the run uses one "
            f"identity: save it as {names['aws']!r}"
        )
    return carried[0] if carried else None


def _aws_with_environment(block: AwsCredentials, storage: StorageSettings) -> AwsCredentials:
    """The block with each AWS value the environment sets on top of it (the environment comes first)."""
    set_here = storage.model_fields_set
    update: dict[str, Any] = {}
    if {"aws_access_key_id", "aws_secret_access_key"} <= set_here:  # keys come in pairs, with their token
        update.update(
            aws_access_key_id=_plain(storage.aws_access_key_id),
            aws_secret_access_key=storage.aws_secret_access_key,
            aws_session_token=_plain(storage.aws_session_token),
        )
    if "aws_region" in set_here:
        update["region_name"] = storage.aws_region
    if "aws_endpoint_url" in set_here and storage.aws_endpoint_url:
        parameters = block.aws_client_parameters.model_copy(update={"endpoint_url": storage.aws_endpoint_url})
        update["aws_client_parameters"] = parameters
    return block.model_copy(update=update) if update else block


def _storage_from_blocks(storage: StorageSettings, names: dict[str, str]) -> dict[str, Any]:
    """Storage settings from the AWS blocks: names, region, endpoint and the credentials block itself."""
    values: dict[str, Any] = {}
    buckets = []
    for zone in ("raw", "curated"):
        if bucket := _load_optional(S3Bucket, names[zone]):
            buckets.append(bucket)
            values[f"{zone}_bucket"] = bucket.bucket_name
            if bucket.bucket_folder:
                values[f"{zone}_prefix"] = bucket.bucket_folder.strip("/")
    block = _aws_block(names, buckets)
    if block is not None:
        block = _aws_with_environment(block, storage)
        values["credentials_block"] = block
        if block.region_name:
            values["aws_region"] = block.region_name
        if block.aws_client_parameters.endpoint_url:
            values["aws_endpoint_url"] = block.aws_client_parameters.endpoint_url
    return {key: value for key, value in values.items() if key not in storage.model_fields_set}


def _sign_in_value(field: str, value: Any, name: str) -> Any:
    """A block's sign-in value as the settings hold it (the key as PEM text)."""
    if field != "private_key":
        return value
    try:
        return SecretStr(value.get_secret_value().decode())
    except UnicodeDecodeError:
        raise ConfigError(f"block {name!r}: private_key is not PEM text") from None


def _snowflake_from_blocks(sf: SnowflakeSettings, names: dict[str, str]) -> dict[str, Any]:
    """Snowflake settings from the blocks: names, the sign-in values, and the block that hands out connections."""
    values: dict[str, Any] = {}
    credentials_name = names["snowflake_credentials"]
    credentials = _load_optional(SnowflakeCredentials, credentials_name)
    if connector := _load_optional(SnowflakeConnector, names["snowflake"]):
        values.update(database=connector.database, schema_name=connector.schema_, warehouse=connector.warehouse)
        if credentials is None:
            credentials, credentials_name = connector.credentials, names["snowflake"]
    if credentials is not None:
        values.update({field: getattr(credentials, field) for field in SNOWFLAKE_NAMES})
        sources = dict(sf.value_sources)
        for block_field, field in SNOWFLAKE_SIGN_IN.items():
            value = getattr(credentials, block_field)
            if value is None or field in sf.model_fields_set or (field == "authenticator" and value == "snowflake"):
                continue  # unset, set by the environment, or the block's default authenticator (not a choice)
            values[field] = _sign_in_value(field, value, credentials_name)
            sources[field] = f"{block_field} of block {credentials_name!r}"
        values["value_sources"] = sources
        # The block keeps every other field; the sign-in values now live in the settings (one check, one path).
        kept = {
            field: value
            for field in credentials.model_fields_set - set(SNOWFLAKE_SIGN_IN)
            if (value := getattr(credentials, field)) is not None
        }
        values["credentials_block"] = type(credentials).model_construct(_fields_set=set(kept), **kept)
    return {
        key: value
        for key, value in values.items()
        if value is not None and (key not in sf.model_fields_set or key in ("value_sources", "credentials_block"))
    }


def load_settings_from_blocks(settings: Settings, prefix: str = "ecom") -> Settings:
    """Return `settings` with whichever of the profile's blocks exist applied; unchanged if none do."""
    names = block_names(prefix)
    groups = {
        "storage": _storage_from_blocks(settings.storage, names),
        "snowflake": _snowflake_from_blocks(settings.snowflake, names),
    }
    groups = {group: values for group, values in groups.items() if values}
    return settings.updated(**groups) if groups else settings
