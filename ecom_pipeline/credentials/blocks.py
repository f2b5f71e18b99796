"""Prefect blocks of the `aws` profile: saved from the settings (`ecom-pipeline blocks`), loaded at a run's start.

`upsert_blocks` saves five blocks (docs/prefect.md#blocks-aws-profile); the AWS credentials block stores no AWS keys
unless asked to (`--store-aws-keys`), so runs use the worker's default AWS credential chain (its instance profile).
`load_blocks` reads back those that exist, as they are: the settings values they set (names, region, endpoint, the
Snowflake sign-in), and the two credentials blocks themselves, which `credentials.py` turns into the run's client
factories. A block that exists but cannot be loaded is a ConfigError naming it; a missing one sets nothing. Only
block names are ever logged, never values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound
from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials
from pydantic import SecretStr, ValidationError

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings, SourcedValue, StorageSettings, validation_summary
from ecom_pipeline.warehouse.auth import BLOCK_SIGN_IN, snowflake_credentials

logger = logging.getLogger("ecom_pipeline.credentials.blocks")

BlockT = TypeVar("BlockT", bound=Block)


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
    credentials = snowflake_credentials(snowflake)  # a key that cannot be opened is refused here, not at a run
    return {
        "aws": aws,
        "raw": S3Bucket(bucket_name=storage.raw_bucket, bucket_folder=storage.raw_prefix, credentials=aws),
        "curated": S3Bucket(bucket_name=storage.curated_bucket, bucket_folder=storage.curated_prefix, credentials=aws),
        "snowflake_credentials": credentials,
        "snowflake": SnowflakeConnector(
            credentials=credentials,
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
            logger.debug("no %s block %r; keeping the other sources' values", slug, name)
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


@dataclass(frozen=True)
class ProfileBlocks:
    """What the aws profile's blocks give a run: the settings values they set, and the two credentials blocks."""

    values: list[SourcedValue]
    aws: AwsCredentials | None
    snowflake: SnowflakeCredentials | None


def load_blocks(prefix: str = "ecom") -> ProfileBlocks:
    """The aws profile's blocks that exist: the values they set, each named by block and field, and their credentials.

    A bucket block's credentials serve when there is no AWS credentials block, the connector's when there is no
    Snowflake credentials block.
    """
    names = block_names(prefix)
    values: list[SourcedValue] = []

    def found(name: str, group: str, field: str, value: Any, block_field: str | None = None) -> None:
        values.append(SourcedValue(group, field, value, f"{block_field or field} of block {name!r}"))

    buckets = []
    for zone in ("raw", "curated"):
        if bucket := _load_optional(S3Bucket, names[zone]):
            buckets.append(bucket)
            found(names[zone], "storage", f"{zone}_bucket", bucket.bucket_name, "bucket_name")
            found(names[zone], "storage", f"{zone}_prefix", bucket.bucket_folder.strip("/") or None, "bucket_folder")
    aws = _aws_block(names, buckets)
    if aws is not None:
        found(names["aws"], "storage", "aws_region", aws.region_name, "region_name")
        found(names["aws"], "storage", "aws_endpoint_url", aws.aws_client_parameters.endpoint_url, "endpoint_url")
    credentials_name = names["snowflake_credentials"]
    credentials = _load_optional(SnowflakeCredentials, credentials_name)
    if connector := _load_optional(SnowflakeConnector, names["snowflake"]):
        found(names["snowflake"], "snowflake", "database", connector.database)
        found(names["snowflake"], "snowflake", "schema_name", connector.schema_, "schema")
        found(names["snowflake"], "snowflake", "warehouse", connector.warehouse)
        if credentials is None:
            credentials, credentials_name = connector.credentials, names["snowflake"]
    if credentials is not None:
        for field in ("account", "user", "role"):
            found(credentials_name, "snowflake", field, getattr(credentials, field))
        for block_field, field in BLOCK_SIGN_IN.items():
            value = getattr(credentials, block_field)
            if field == "authenticator" and value == "snowflake":
                continue  # the block's default, not a choice
            if field == "private_key" and value is not None:
                value = _pem_text(value.get_secret_value(), credentials_name)
            found(credentials_name, "snowflake", field, value, block_field)
    return ProfileBlocks(values, aws, credentials)


def _pem_text(key: bytes, name: str) -> SecretStr:
    """A block's private key (bytes) as the settings hold it: PEM text."""
    try:
        return SecretStr(key.decode())
    except UnicodeDecodeError:
        raise ConfigError(f"block {name!r}: private_key is not PEM text") from None
