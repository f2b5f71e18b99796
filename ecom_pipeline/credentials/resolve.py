"""A run's credentials and names, resolved once at its start from its sources, in the documented order.

The sources, in the order of docs/prefect.md#where-values-come-from: the environment (Settings reads it), the aws
profile's Prefect blocks (`blocks.py`), the Secrets Manager secret (`secret_store.py`). From the result come the
run's client factories, which the settings carry: the AWS Credentials block with the winning values on top (`aws.py`
asks it for every boto3 client) and a Snowflake Credentials holding the one sign-in method (`warehouse/auth.py`;
`connection.py` asks it for every connection). A missing secret, a bad key or two sign-in methods fail here, before
any task and so before any retry.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ecom_pipeline.credentials.secret_store import from_secret, read_secret
from ecom_pipeline.settings import Settings, StorageSettings, fill_unset
from ecom_pipeline.warehouse.auth import ENV_NAMES, authenticator, snowflake_credentials

if TYPE_CHECKING:  # prefect-aws takes seconds to import: only the aws profile's runs do
    from prefect_aws import AwsCredentials

logger = logging.getLogger(__name__)


def _aws_on_top(block: AwsCredentials, storage: StorageSettings) -> AwsCredentials:
    """The AWS Credentials block with the settings' keys (the environment's, a pair with its token), region and
    endpoint on top, validated again; every other field (profile, assumed role, client parameters) is the block's."""
    values = {field: getattr(block, field) for field in block.model_fields_set}
    if storage.aws_access_key_id is not None and storage.aws_secret_access_key is not None:
        token = storage.aws_session_token
        values.update(
            aws_access_key_id=storage.aws_access_key_id.get_secret_value(),  # plain text in prefect-aws
            aws_secret_access_key=storage.aws_secret_access_key,
            aws_session_token=token.get_secret_value() if token is not None else None,
        )
    if "aws_region" in storage.model_fields_set:  # else the block's profile may name one
        values["region_name"] = storage.aws_region
    if storage.aws_endpoint_url:
        parameters = block.aws_client_parameters
        values["aws_client_parameters"] = {
            **{field: getattr(parameters, field) for field in parameters.model_fields_set},
            "endpoint_url": storage.aws_endpoint_url,
        }
    return type(block)(**values)


def resolve_credentials(settings: Settings, blocks_prefix: str | None = None, *, bootstrap: bool = False) -> Settings:
    """The run's settings: every source applied in order, the Snowflake sign-in checked, the client factories built.

    Args:
        settings: the environment's settings.
        blocks_prefix: the aws profile's block names (`ecom` for `ecom-raw`, ...); None reads no blocks.
        bootstrap: for `bootstrap-warehouse`, which reads the secret (the pipeline user's sign-in) only when it signs
            in as that user: applied to another user's session, its key would collide with that user's own method.

    Raises:
        ConfigError: a block that cannot load, a missing or malformed secret, a bad key, none or two sign-in methods.
    """
    where = dict(ENV_NAMES)  # what each sign-in value is called in errors: the setting, or the block or secret key
    also: dict[str, str] = {}  # other places a missing sign-in value could be set
    snowflake_block = None
    if blocks_prefix is not None:
        from ecom_pipeline.credentials.blocks import load_blocks  # prefect-aws and prefect-snowflake: seconds to import

        blocks = load_blocks(blocks_prefix)
        settings, taken = fill_unset(settings, blocks.values)
        where |= {field: source for (group, field), source in taken.items() if group == "snowflake"}
        snowflake_block = blocks.snowflake
        if blocks.aws is not None:  # set before the secret is read: with the run's AWS identity
            settings = settings.updated(storage={"credentials_block": _aws_on_top(blocks.aws, settings.storage)})
    sf = settings.snowflake
    # Unquoted Snowflake user names are case-insensitive: ecom_pipeline and ECOM_PIPELINE are one user.
    another_user = bootstrap and (sf.bootstrap_user or "").upper() not in ("", sf.user.upper())
    if settings.secret_id and another_user:
        logger.info(
            "bootstrap signs in as %s with its own credentials; secret %r holds the pipeline user's and is not read",
            sf.bootstrap_user,
            settings.secret_id,
        )
    elif settings.secret_id:
        secret = from_secret(settings, read_secret(settings))
        settings, taken = fill_unset(settings, secret)
        where |= {field: source for (group, field), source in taken.items() if group == "snowflake"}
        also = {item.field: item.where for item in secret if item.group == "snowflake"}
    sf = settings.snowflake
    if authenticator(sf, where, also) is None and snowflake_block is None:
        return settings  # the emulator, with its own password: no credentials object (nor prefect-snowflake) needed
    return settings.updated(snowflake={"credentials_block": snowflake_credentials(sf, snowflake_block, where)})
