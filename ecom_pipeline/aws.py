"""boto3 clients built from settings: from the aws profile's AwsCredentials block when there is one, else from
the settings' endpoint and keys (and the default AWS chain for whatever they leave unset).

A block is used as what it is, a credentials object: its boto3 session honours the keys, the session token, the
profile name and an assumed role; its client parameters (endpoint, `verify`, CA bundle, `use_ssl`, API version,
botocore `config`) apply to every client. The pipeline's own defaults (retries, path-style addressing on an S3
emulator) go underneath: a value the block's `config` sets wins. Every client of a run (S3, Glue, Secrets
Manager) and the Spark job's environment get the same identity.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError

from ecom_pipeline.retry_policy import AWS_API_ATTEMPTS
from ecom_pipeline.settings import StorageSettings

RETRIES = {"max_attempts": AWS_API_ATTEMPTS, "mode": "standard"}  # retry_policy.py: the one budget of an AWS call
LOG = logging.getLogger(__name__)
# S3 answers a read of a missing key with 404 to a caller who has s3:ListBucket on the bucket, else with 403
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). The worker's ListBucket
# grants are held to `s3:prefix` conditions (infra/ecom-pipeline.yaml), and no S3 page says which prefix, if any, the
# request context of that implicit check carries: a GetObject has no prefix parameter, and a condition on a missing
# key is false. So for the keys a run reads before they first exist (manifests, reuse markers, the unknown-job
# note), a 403 is read as "not there", with a warning; a real denial still stops the run at the next call it refuses.
_MISSING_KEY = {"NoSuchKey", "404"}
_MAYBE_MISSING_KEY = {"AccessDenied", "403"}


def _settings_keys(storage: StorageSettings) -> dict[str, str]:
    """The settings' own keys as boto3 arguments; none unless both halves are set."""
    if storage.aws_access_key_id is None or storage.aws_secret_access_key is None:
        return {}
    keys = {
        "aws_access_key_id": storage.aws_access_key_id.get_secret_value(),
        "aws_secret_access_key": storage.aws_secret_access_key.get_secret_value(),
    }
    if storage.aws_session_token is not None:
        keys["aws_session_token"] = storage.aws_session_token.get_secret_value()
    return keys


def make_client(service: str, storage: StorageSettings, config: Config | None = None) -> Any:
    """A boto3 client for `service` with the run's identity, endpoint and region; `config` is our default."""
    config = Config(retries=RETRIES).merge(config) if config else Config(retries=RETRIES)
    block = storage.credentials_block
    if block is None:
        options: dict[str, Any] = {"region_name": storage.aws_region, **_settings_keys(storage)}
        if storage.aws_endpoint_url:
            options["endpoint_url"] = storage.aws_endpoint_url
        return boto3.client(service, config=config, **options)
    params = block.aws_client_parameters.get_params_override()
    if "config" in params:
        config = config.merge(params.pop("config"))  # the block's botocore settings win over our defaults
    session = block.get_boto3_session()
    return session.client(service, region_name=session.region_name or storage.aws_region, config=config, **params)


def make_s3_client(storage: StorageSettings) -> Any:
    """An S3 client for `storage` (path-style addressing when an emulator endpoint is set)."""
    s3_config = Config(s3={"addressing_style": "path"}) if storage.aws_endpoint_url else None
    return make_client("s3", storage, s3_config)


def make_glue_client(storage: StorageSettings) -> Any:
    """A Glue client with the same region, endpoint and credentials as S3."""
    return make_client("glue", storage)


def make_secrets_client(storage: StorageSettings) -> Any:
    """A Secrets Manager client with the same region, endpoint and credentials as S3."""
    return make_client("secretsmanager", storage)


def frozen_credentials(storage: StorageSettings) -> ReadOnlyCredentials | None:
    """The keys a child process (the Spark job) needs for the run's identity, or None to let it find its own.

    From the block's session (keys, profile or assumed role) when there is one, else the settings' own keys.
    """
    if storage.credentials_block is not None:
        credentials = storage.credentials_block.get_boto3_session().get_credentials()
        return credentials.get_frozen_credentials() if credentials is not None else None
    keys = _settings_keys(storage)
    if not keys:
        return None
    return ReadOnlyCredentials(keys["aws_access_key_id"], keys["aws_secret_access_key"], keys.get("aws_session_token"))


def missing_key(error: ClientError, bucket: str, key: str) -> bool:
    """True when a GetObject's `error` says `key` is not there: a 404, or a 403 (logged), which S3 answers for a
    missing key when the caller's s3:ListBucket does not cover it (see above)."""
    code = error.response.get("Error", {}).get("Code")
    if code in _MISSING_KEY:
        return True
    if code in _MAYBE_MISSING_KEY:
        LOG.warning(
            "S3 answered %s for s3://%s/%s: read as missing, as S3 answers for a missing key when the caller's "
            "s3:ListBucket does not cover it (a real denial fails the next call)",
            code,
            bucket,
            key,
        )
        return True
    return False
