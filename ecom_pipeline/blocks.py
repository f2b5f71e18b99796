"""Prefect blocks for the `aws` profile: save credentials and names once, load them by name in every run.

`upsert_blocks` writes five blocks from the current settings (read from the environment);
`load_settings_from_blocks` is the reverse: the flow calls it at start, so a run uses the blocks
when they exist and its environment otherwise. Block values never reach a log: only names do.

Block names (with the default prefix `ecom`):

| block | type | fills |
|---|---|---|
| `ecom-aws-credentials` | AwsCredentials | AWS keys, region, S3 endpoint |
| `ecom-raw` / `ecom-curated` | S3Bucket | raw / curated bucket and prefix |
| `ecom-snowflake-credentials` | SnowflakeCredentials | account, user, password, role |
| `ecom-snowflake` | SnowflakeConnector | database, schema, warehouse |
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from prefect.blocks.core import Block
from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials
from pydantic import SecretStr

from ecom_pipeline.settings import Settings

logger = logging.getLogger("ecom_pipeline.blocks")

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


def build_blocks(settings: Settings) -> dict[str, Block]:
    """The five blocks that describe `settings`' AWS and Snowflake side, keyed by role (not saved)."""
    storage, snowflake = settings.storage, settings.snowflake
    aws = AwsCredentials(
        # prefect-aws keeps the key id as plain text (AWS calls it an identifier); the secret is a SecretStr.
        aws_access_key_id=_plain(storage.aws_access_key_id),
        aws_secret_access_key=storage.aws_secret_access_key,
        region_name=storage.aws_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=storage.aws_endpoint_url),
    )
    snowflake_credentials = SnowflakeCredentials(
        account=snowflake.account, user=snowflake.user, password=snowflake.password, role=snowflake.role
    )
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


def upsert_blocks(settings: Settings, prefix: str = "ecom") -> list[str]:
    """Create or overwrite the aws profile's blocks from `settings`; return their names in save order.

    Credentials are saved first so the bucket and connector blocks reference them instead of copying them.
    """
    names = block_names(prefix)
    saved: list[str] = []
    for role, block in build_blocks(settings).items():
        block.save(names[role], overwrite=True, _sync=True)  # sync even if a caller has an event loop
        logger.info("saved %s block %r", block.get_block_type_slug(), names[role])
        saved.append(names[role])
    return saved


def _load_optional(block_type: type[BlockT], name: str) -> BlockT | None:
    """Load a block by name, or None when no block of that name exists."""
    try:
        block = block_type.load(name, _sync=True)
    except ValueError:  # Block.load's "Unable to find block document named ..."
        logger.debug("no %s block %r; keeping the environment's values", block_type.get_block_type_slug(), name)
        return None
    logger.info("using %s block %r", block_type.get_block_type_slug(), name)
    return block


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def load_settings_from_blocks(settings: Settings, prefix: str = "ecom") -> Settings:
    """Return `settings` with the values of whichever of the profile's blocks exist; unchanged if none do."""
    names = block_names(prefix)
    storage: dict[str, Any] = {}
    snowflake: dict[str, Any] = {}

    if aws := _load_optional(AwsCredentials, names["aws"]):
        storage["aws_access_key_id"] = _secret(aws.aws_access_key_id)
        storage["aws_secret_access_key"] = aws.aws_secret_access_key
        if aws.region_name:
            storage["aws_region"] = aws.region_name
        if aws.aws_client_parameters.endpoint_url:
            storage["aws_endpoint_url"] = aws.aws_client_parameters.endpoint_url
    if raw := _load_optional(S3Bucket, names["raw"]):
        storage["raw_bucket"] = raw.bucket_name
        if raw.bucket_folder:
            storage["raw_prefix"] = raw.bucket_folder.strip("/")
    if curated := _load_optional(S3Bucket, names["curated"]):
        storage["curated_bucket"] = curated.bucket_name
        if curated.bucket_folder:
            storage["curated_prefix"] = curated.bucket_folder.strip("/")
    if credentials := _load_optional(SnowflakeCredentials, names["snowflake_credentials"]):
        snowflake.update(account=credentials.account, user=credentials.user, role=credentials.role)
        if credentials.password is not None:
            snowflake["password"] = credentials.password
        snowflake = {key: value for key, value in snowflake.items() if value is not None}
    if connector := _load_optional(SnowflakeConnector, names["snowflake"]):
        snowflake.update(database=connector.database, schema_name=connector.schema_, warehouse=connector.warehouse)

    groups = {name: values for name, values in (("storage", storage), ("snowflake", snowflake)) if values}
    return settings.updated(**groups) if groups else settings
