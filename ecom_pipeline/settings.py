"""Typed configuration: one Settings object read from the environment and an optional `.env`.

The same code runs in three profiles; only values differ (endpoints, how the Spark job is launched).
Each group reads its own environment prefix so the names match what the tools already use:
`ECOM_*` for the pipeline, `AWS_*` for boto3, `SNOWFLAKE_*` for the warehouse.

Secrets are `SecretStr`. Besides the environment, the aws profile's Prefect blocks and a Secrets Manager secret
may set values: `fill_unset` is the rule between them (docs/prefect.md#where-values-come-from).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.retry_policy import SOURCE_PAGE

REPO_ROOT = Path(__file__).resolve().parents[1]
RESOURCES: tuple[str, ...] = ("users", "products", "carts")


class Profile(StrEnum):
    """Where the pipeline runs: loopback emulators, docker compose, or real AWS/Snowflake."""

    LOCAL = "local"
    COMPOSE = "compose"
    AWS = "aws"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", populate_by_name=True)


class ApiSettings(BaseSettings):
    """The DummyJSON-compatible source API and how politely we call it."""

    model_config = _config("ECOM_API_")

    base_url: str = "https://dummyjson.com"
    page_size: int = Field(default=100, ge=0, description="Items per request; 0 asks for all in one page.")
    concurrency: int = Field(default=4, ge=1, le=64)
    rate_limit_per_second: float = Field(default=10.0, gt=0, description="Public API allows ~100 req / 10 s.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(
        default=SOURCE_PAGE.attempts, ge=1, description="HTTP attempts per page for transient failures."
    )
    backoff_initial_seconds: float = Field(default=SOURCE_PAGE.initial_seconds, ge=0)
    backoff_max_seconds: float = Field(default=SOURCE_PAGE.max_seconds, ge=0)


class StorageSettings(BaseSettings):
    """S3 buckets and prefixes of the raw and curated zones, and the S3 endpoint."""

    model_config = _config("ECOM_")

    raw_bucket: str = "ecom-raw"
    curated_bucket: str = "ecom-curated"
    raw_prefix: str = "dummyjson"
    curated_prefix: str = "orders"
    quarantine_prefix: str = "quarantine"
    summary_prefix: str = Field(
        default="job-summaries",
        description=(
            "Where, in the curated bucket, each job writes its run summary and the transform keeps its reuse markers "
            "(`<prefix>/run_id=...json`, `<prefix>/latest/`); the stack's SummaryPrefix."
        ),
    )
    part_max_records: int = Field(default=50_000, ge=1, description="Records per raw NDJSON part.")
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    aws_access_key_id: SecretStr | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(default=None, validation_alias="AWS_SECRET_ACCESS_KEY")
    aws_session_token: SecretStr | None = Field(
        default=None, validation_alias="AWS_SESSION_TOKEN", description="With temporary keys (an assumed role)."
    )
    # `Any`: prefect-aws and prefect-snowflake take seconds to import, which a local run never needs.
    credentials_block: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The aws profile's prefect-aws AwsCredentials (`resolve_credentials`): it hands out boto3 clients.",
    )

    def raw_key(self, *parts: str) -> str:
        """A key under the raw prefix, e.g. `dummyjson/_locks/x.lock` (an empty prefix adds nothing)."""
        return "/".join(part for part in (self.raw_prefix.strip("/"), *parts) if part)

    def summary_key(self, *parts: str) -> str:
        """A key under the summary prefix in the curated bucket, e.g. `job-summaries/run_id=r1.json`."""
        return "/".join(part for part in (self.summary_prefix.strip("/"), *parts) if part)

    def raw_uri(self, scheme: str = "s3") -> str:
        """Root of the raw zone, e.g. `s3://ecom-raw/dummyjson`."""
        return f"{scheme}://{self.raw_bucket}/{self.raw_prefix}"

    def curated_uri(self, scheme: str = "s3") -> str:
        """Root of the curated orders dataset."""
        return f"{scheme}://{self.curated_bucket}/{self.curated_prefix}"

    def quarantine_uri(self, scheme: str = "s3") -> str:
        """Root of the transform's quarantine dataset (rows rejected by the Spark job)."""
        return f"{scheme}://{self.curated_bucket}/{self.quarantine_prefix}/{self.curated_prefix}"


class SparkSettings(BaseSettings):
    """Local PySpark knobs (the `local` profile runs the Glue job script with these)."""

    model_config = _config("ECOM_SPARK_")

    master: str = "local[2]"
    shuffle_partitions: int = Field(default=2, ge=1)
    driver_memory: str = "2g"
    timeout_seconds: float = Field(default=1800, gt=0)
    java_options: str = Field(
        default="-XX:+UseParallelGC -XX:FreqInlineSize=100 -XX:MaxInlineLevel=6",
        description=(
            "Driver JVM options. ParallelGC measured faster than G1 for short jobs on few cores; smaller inlining "
            "limits cut the JIT's C2 compile time (about 14 of 40 CPU seconds of a 1M-line job on 2 cores)."
        ),
    )
    class_data_sharing: bool = Field(
        default=True,
        description="Archive the JVM's loaded classes after the first run and map them at start.",
    )
    class_data_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ecom-pipeline" / "spark-cds"
        ),
        description="Where the class-data archive lives: one per machine, shared by every run and work dir.",
    )
    python: Path | None = Field(
        default=None,
        description=(
            "The Python the job runs on, launched by the spark-submit of its environment (a venv's bin); "
            "default: this process's. The Glue 4 test points it at Spark 3.3.0 on Python 3.10."
        ),
    )


class GlueSettings(BaseSettings):
    """Which Glue job the `aws` profile runs; its definition is the CloudFormation stack's (infra/)."""

    model_config = _config("ECOM_GLUE_")

    job_name: str = "ecom-orders-transform"
    poll_seconds: float = Field(default=15.0, gt=0)
    jobs_dir: Path = Field(
        default=Path("/jobs"), description="compose only: folder shared with the Glue 4 container's job runner."
    )


class SnowflakeSettings(BaseSettings):
    """Warehouse connection and object names. `host/port/protocol` point the connector at an emulator.

    Authentication (`ecom_pipeline/warehouse/auth.py`): exactly one of a private key (file or PEM text, the
    documented default for the service user), a programmatic access token or a password, or an authenticator
    that needs none of them. With none set, the emulator takes its own password.
    """

    model_config = _config("SNOWFLAKE_")

    account: str = "local"
    user: str = "ecom"
    private_key_file: Path | None = Field(default=None, description="Key pair: path to the PEM private key.")
    private_key: SecretStr | None = Field(default=None, description="Key pair: the PEM private key itself.")
    private_key_passphrase: SecretStr | None = Field(default=None, description="Passphrase of an encrypted key.")
    token: SecretStr | None = Field(default=None, description="A programmatic access token (PAT).")
    password: SecretStr | None = Field(default=None, description="Password sign-in, still accepted.")
    authenticator: str | None = Field(
        default=None, description="The connector's authenticator, when not implied (e.g. OAUTH with a token)."
    )
    role: str = Field(
        default="ECOM_LOADER",
        description=(
            "The loader role the pipeline runs as (loads, report). `bootstrap-warehouse` creates it, grants it to "
            "SNOWFLAKE_USER and to SYSADMIN, and grants it exactly what the pipeline's statements need."
        ),
    )
    bootstrap_role: str = Field(
        default="ACCOUNTADMIN",
        description=(
            "The role `bootstrap-warehouse` runs sql/setup and sql/views as; the pipeline never uses it. At least: "
            "CREATE WAREHOUSE and CREATE DATABASE (SYSADMIN has them), CREATE ROLE (USERADMIN, SECURITYADMIN) and "
            "CREATE INTEGRATION (ACCOUNTADMIN only, unless granted) on the account. It owns what it creates."
        ),
    )
    bootstrap_user: str | None = Field(
        default=None,
        description=(
            "The user `bootstrap-warehouse` connects as, e.g. an administrator's own user; default SNOWFLAKE_USER. "
            "The credential settings (password, key, token) are that user's while bootstrap runs; SNOWFLAKE_USER "
            "still names the pipeline's user, to which the loader role is granted."
        ),
    )
    warehouse: str = "ECOM_WH"
    database: str = "ECOM"
    schema_name: str = Field(default="ANALYTICS", validation_alias=AliasChoices("SNOWFLAKE_SCHEMA", "schema_name"))
    host: str | None = None
    port: int | None = None
    protocol: str = "https"
    storage_integration: str = "ECOM_S3_INTEGRATION"
    stage: str = "ECOM_CURATED_STAGE"
    aws_role_arn: str = "arn:aws:iam::000000000000:role/ecom-snowflake-access"
    emulator: bool = Field(default=False, description="True when talking to the local fakesnow emulator.")
    # `Any`, as the AWS one: prefect-snowflake is imported only where a sign-in needs it.
    credentials_block: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The run's prefect-snowflake SnowflakeCredentials (`resolve_credentials`): it opens connections.",
    )


class QualitySettings(BaseSettings):
    """Data-quality thresholds (`ecom_pipeline/quality.py`, docs/reliability.md): a figure above `*_warn` warns, above
    `*_fail` fails the run. Figures are ratios (0.05 = 5 %); `inf` never warns or fails. A run may override them."""

    model_config = _config("ECOM_DQ_")

    quarantine_share_warn: float = Field(
        default=0.01, ge=0, description="Records quarantined / received, per resource landed and for the orders."
    )
    quarantine_share_fail: float = Field(default=0.05, ge=0, description="Above this share the run fails.")
    duplicate_share_warn: float = Field(default=0.01, ge=0, description="Cart lines removed as duplicates / read.")
    duplicate_share_fail: float = Field(default=0.05, ge=0, description="Above this share the run fails.")
    row_change_warn: float = Field(
        default=0.2, ge=0, description="abs(rows - the previous run's rows) / the previous run's rows, per resource."
    )
    row_change_fail: float = Field(default=0.5, ge=0, description="Above this change the run fails.")

    @model_validator(mode="after")
    def _warn_not_above_fail(self) -> QualitySettings:
        for check in ("quarantine_share", "duplicate_share", "row_change"):
            warn, fail = getattr(self, f"{check}_warn"), getattr(self, f"{check}_fail")
            if warn > fail:
                raise ValueError(f"{check}_warn ({warn}) must not be above {check}_fail ({fail})")
        return self


class Settings(BaseSettings):
    """Everything a pipeline run needs, grouped by stage."""

    model_config = _config("ECOM_")

    profile: Profile = Profile.LOCAL
    run_date: date = Field(default_factory=lambda: datetime.now(UTC).date())
    resources: Annotated[tuple[str, ...], NoDecode] = RESOURCES
    cost_ratio: Decimal = Field(default=Decimal("0.6"), gt=0, lt=1, max_digits=6, decimal_places=4)
    default_order_status: str = "completed"
    work_dir: Path = Field(default=Path(".ecom"), description="Local state: summaries, charts, emulator data.")
    failure_webhook_url: SecretStr | None = Field(
        default=None, description="Failure alerts go here (the URL often carries a token: a secret)."
    )
    secret_id: str = Field(
        default="",
        description="Name or ARN of the AWS Secrets Manager secret (JSON) holding the secrets; empty = not used.",
    )
    curated_lock_wait_seconds: float = Field(
        default=7200.0,
        ge=0,
        description=(
            "How long a run waits for another run's transform and load (any date) before it gives up: both rewrite "
            "whole order_date partitions. The default covers a Glue job at its timeout plus the load."
        ),
    )
    reprocess_max_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description=(
            "Most dates a reprocess may run at once (its --concurrency is checked against it). Each is a Spark job: "
            "locally a JVM on this host's cores; on aws also capped by the Glue job's MaxConcurrentRuns."
        ),
    )

    api: ApiSettings = Field(default_factory=ApiSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    glue: GlueSettings = Field(default_factory=GlueSettings)
    snowflake: SnowflakeSettings = Field(default_factory=SnowflakeSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)

    @field_validator("resources", mode="before")
    @classmethod
    def _known_resources(cls, value: Any) -> tuple[str, ...]:
        names = tuple(value.split(",")) if isinstance(value, str) else tuple(value)
        unknown = [name for name in names if name not in RESOURCES]
        if unknown:
            raise ValueError(f"unknown resource(s) {unknown}; valid: {', '.join(RESOURCES)}")
        return names

    def updated(self, **groups: dict[str, Any]) -> Settings:
        """Return a copy with fields replaced, e.g. `updated(api={"page_size": 7}, top={"run_date": d})`."""
        top = dict(groups.pop("top", {}))
        for group, values in groups.items():
            current = getattr(self, group)
            top[group] = current.model_copy(update=values)
        return self.model_copy(update=top)


class SourcedValue(NamedTuple):
    """A value from a source read after the environment (a block, a secret), and where it came from."""

    group: str  # a settings group ("storage", "snowflake", ...), or "top" for Settings' own fields
    field: str
    value: Any
    where: str  # what errors name, e.g. "key 'snowflake_token' of secret 'ecom/pipeline'"; never the value


def fill_unset(settings: Settings, values: Iterable[SourcedValue]) -> tuple[Settings, dict[tuple[str, str], str]]:
    """`settings` with each value whose field no earlier source set, and where each value taken came from.

    The rule of docs/prefect.md#where-values-come-from, in code: call it once per source, in order (the environment
    is read first, by Settings itself).
    """
    taken: dict[str, dict[str, Any]] = {}
    where: dict[tuple[str, str], str] = {}
    for group, field, value, source in values:
        current = settings if group == "top" else getattr(settings, group)
        if value is None or (field in current.model_fields_set and getattr(current, field) is not None):
            continue  # set by an earlier source (a code default is not in `model_fields_set`)
        taken.setdefault(group, {})[field] = value
        where[(group, field)] = source
    return settings.updated(**taken), where


def validation_summary(error: ValidationError, whole: str = "settings") -> str:
    """Which fields failed and why, without the input values (they may be secrets)."""
    return "; ".join(f"{'.'.join(map(str, item['loc'])) or whole}: {item['msg']}" for item in error.errors())


def load_settings(**top_level: Any) -> Settings:
    """Read settings from the environment (and `.env`), with optional top-level overrides.

    Raises:
        ConfigError: a value that cannot work, naming the setting (a bad config fails in one line, never retried).
    """
    try:
        return Settings(**top_level)
    except ValidationError as error:
        # `from None`: the chain would quote the input values, secrets included.
        raise ConfigError(f"invalid settings: {validation_summary(error)}") from None
