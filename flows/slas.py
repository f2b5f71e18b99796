"""Prefect Cloud SLAs as code: `flows/slas.yaml`, applied to the `aws` deployment with Prefect's own models and client.

`prefect deploy` reads an `sla:` key of prefect.yaml, but refuses it outright on an open-source server (prefect 3.9
`cli/deploy/_sla.py`: "SLA configuration is currently only supported on Prefect Cloud"), so one prefect.yaml could
not deploy to both. The SLAs live here instead, and `apply_slas` sends them where Cloud takes them: Prefect's
`apply_slas_for_deployment` (`POST /slas/apply-resource-slas/prefect.deployment.<id>`), which creates and updates
them by name and removes the deployment's SLAs the file no longer names. On any other API it skips.

Prefect 3.9's client models three SLA types (`SlaTypes`: time to completion, frequency, lateness). Cloud also has
a freshness SLA, which the client does not model: `FreshnessSla` adds it on Prefect's own base class, with the
fields Prefect's Terraform provider documents for it (`prefect_resource_sla`: `within`, `resource_match`,
`expected_event`). Prefect's untagged union would otherwise read such an entry as a lateness SLA and drop the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect._experimental.sla.objects import ServiceLevelAgreement, SlaMergeResponse, SlaTypes
from prefect.client.base import ServerType, determine_server_type
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings
from pydantic import Field, TypeAdapter, ValidationError

from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import Settings
from flows import assets
from flows.as_code import one_line, read_entries, require_unique_names

SLAS_FILE = Path(__file__).with_name("slas.yaml")
PREFECT_SLAS: TypeAdapter[SlaTypes] = TypeAdapter(SlaTypes)  # what `prefect deploy` validates an `sla:` entry with
# `asset` in the file -> the pipeline asset whose key a freshness SLA matches (flows/assets.py builds every key).
ASSETS: dict[str, Callable[[Settings], Any]] = {"warehouse-orders": assets.orders_table_asset}


class FreshnessSla(ServiceLevelAgreement):
    """Cloud's freshness SLA: `expected_event` from a resource matching `resource_match` at least every `within`."""

    within: timedelta = Field(default=..., description="The longest time allowed without the expected event.")
    resource_match: dict[str, str] = Field(default=..., description="Labels of the resource the event is about.")
    expected_event: str = Field(default=..., description="The event that shows the resource is fresh.")


Sla = SlaTypes | FreshnessSla


@dataclass(frozen=True)
class SlasFile:
    """The file: the deployment its SLAs belong to (`flow/deployment`), and the SLAs, in the file's order."""

    deployment: str
    slas: tuple[Sla, ...]


@dataclass(frozen=True)
class SlasApplied:
    """What applying did: skipped (and why), or Cloud's answer by name."""

    api_url: str
    deployment: str
    skipped: str | None = None
    response: SlaMergeResponse | None = None


def _sla(raw: dict[str, Any], settings: Settings, where: str) -> Sla:
    """One entry as Prefect's model for its type (ours for freshness); a field the model would drop is an error."""
    values = dict(raw)
    if "asset" in values:
        name = values.pop("asset")
        if name not in ASSETS:
            raise ConfigError(f"{where}, field 'asset': unknown asset {name!r}; known: {', '.join(ASSETS)}")
        values["resource_match"] = {"prefect.resource.id": ASSETS[name](settings).key}
    try:
        sla = (
            FreshnessSla.model_validate(values) if "expected_event" in values else PREFECT_SLAS.validate_python(values)
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(f"{where}, field {'.'.join(map(str, first['loc']))!r}: {first['msg']}") from None
    dropped = sorted(set(values) - set(type(sla).model_fields))
    if dropped:  # Prefect's models ignore unknown fields: a misspelt or misplaced one would vanish silently
        raise ConfigError(f"{where}: field(s) {dropped} are not fields of {type(sla).__name__}")
    return sla


def load_slas_file(settings: Settings, path: Path = SLAS_FILE) -> SlasFile:
    """Parse the file and validate each SLA with Prefect's own models; names must be unique (Cloud's key)."""
    document, entries = read_entries(path, "SLA file", "slas", "SLA")
    deployment = document.get("deployment")
    if not isinstance(deployment, str) or deployment.count("/") != 1:
        raise ConfigError(f"SLA file {path}: `deployment` must name one deployment as <flow>/<deployment>")
    slas = [_sla(raw, settings, where) for where, raw in entries]
    require_unique_names(path, "SLA file", (sla.name for sla in slas))
    return SlasFile(deployment=deployment, slas=tuple(slas))


def apply_slas(settings: Settings, path: Path = SLAS_FILE) -> SlasApplied:
    """Apply the file's SLAs to its deployment on Prefect Cloud; on any other Prefect API, skip without a call.

    Raises:
        ConfigError: a bad file, the deployment not on Cloud, or Cloud refused the SLAs.
        PipelineError: Cloud unreachable or failing (worth a retry).
    """
    spec = load_slas_file(settings, path)
    api_url = get_current_settings().api.url or "no Prefect API configured"
    if determine_server_type() is not ServerType.CLOUD:  # Prefect's own test, the one `prefect deploy` uses
        return SlasApplied(api_url, spec.deployment, skipped="not Prefect Cloud")
    try:
        with get_client(sync_client=True) as client:
            try:
                deployment = client.read_deployment_by_name(spec.deployment)
            except ObjectNotFound:
                raise ConfigError(
                    f"deployment {spec.deployment} not found on {api_url}: deploy it first (prefect deploy --name aws)"
                ) from None
            response = client.apply_slas_for_deployment(deployment.id, list(spec.slas))
    except PrefectHTTPStatusError as error:
        status = error.response.status_code
        if status < 500:
            detail = one_line(error.response.text)[:300]
            raise ConfigError(f"SLAs of {spec.deployment}: refused by {api_url} ({status}): {detail}") from error
        raise PipelineError(f"Prefect API {api_url} answered {status}", transient=True) from error
    except httpx.TransportError as error:
        raise PipelineError(f"Prefect API {api_url} unreachable: {one_line(error)}", transient=True) from error
    return SlasApplied(api_url, spec.deployment, response=response)
