"""boto3 clients built from settings: endpoint and keys only when set, else the default AWS chain."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from ecom_pipeline.settings import StorageSettings


def _client_options(storage: StorageSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"region_name": storage.aws_region}
    if storage.aws_endpoint_url:
        options["endpoint_url"] = storage.aws_endpoint_url
    if storage.aws_access_key_id is not None and storage.aws_secret_access_key is not None:
        options["aws_access_key_id"] = storage.aws_access_key_id.get_secret_value()
        options["aws_secret_access_key"] = storage.aws_secret_access_key.get_secret_value()
        if storage.aws_session_token is not None:
            options["aws_session_token"] = storage.aws_session_token.get_secret_value()
    return options


def make_s3_client(storage: StorageSettings) -> Any:
    """An S3 client for `storage` (path-style addressing when an emulator endpoint is set)."""
    s3_config = {"addressing_style": "path"} if storage.aws_endpoint_url else {}
    config = Config(retries={"max_attempts": 5, "mode": "standard"}, s3=s3_config)
    return boto3.client("s3", config=config, **_client_options(storage))


def make_glue_client(storage: StorageSettings) -> Any:
    """A Glue client with the same region, endpoint and credentials as S3."""
    return boto3.client(
        "glue", config=Config(retries={"max_attempts": 5, "mode": "standard"}), **_client_options(storage)
    )
