"""Prefect automations as code: `flows/automations.yaml`, applied to any Prefect API by name, idempotently.

Prefect 3.9's `prefect automation create --from-file` reads the same file, but creates another copy of every
automation each time it runs, and `prefect automation update` needs each automation's id. `apply_automations`
matches by name instead: it updates the automation it finds in place (its id, history and links stay), creates
the missing ones, and leaves every automation the file does not name alone. A second apply changes nothing.

Alerts reach people through one notification block (`notification_block` in the file): written here from
ECOM_FAILURE_WEBHOOK_URL as a Custom Webhook block, or one of that name that exists (Slack, Teams, PagerDuty...).
The webhook URL often carries a token: the block keeps it as a secret, and nothing here prints it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import BlockDocument
from prefect.events.schemas.automations import Automation, AutomationCore
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import get_current_settings
from pydantic import ValidationError

from ecom_pipeline.exceptions import ConfigError, PipelineError
from ecom_pipeline.settings import Settings
from flows.as_code import one_line, read_entries, require_unique_names

logger = logging.getLogger("flows.automations")

AUTOMATIONS_FILE = Path(__file__).with_name("automations.yaml")
WEBHOOK_BLOCK_TYPE = CustomWebhookNotificationBlock.get_block_type_slug()
WEBHOOK_URL_KEY = "webhook_url"  # the block's secret that its URL template names
NOTIFY_FIELDS = frozenset({"subject", "body"})
NO_BLOCK_YET = UUID(int=0)  # a dry run's stand-in for the id of a block it would create


class Outcome(StrEnum):
    """What applying did to one automation or to the notification block."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    USED = "used as is"  # a notification block someone else created: read, never written


@dataclass(frozen=True)
class AutomationSpec:
    """One automation of the file: Prefect's own fields, and our `notify` (subject, body) if it has one."""

    core: AutomationCore
    notify: dict[str, str] | None
    sets_enabled: bool  # without `enabled` in the file, a pause made in the UI survives an apply


@dataclass(frozen=True)
class AutomationsFile:
    """The file: the block the alerts go to, and the automations, in the file's order."""

    notification_block: str
    automations: tuple[AutomationSpec, ...]


@dataclass(frozen=True)
class Applied:
    """The outcome for one automation (or the block): `id` is None when a dry run would create it."""

    kind: str  # "automation" or "notification block"
    name: str
    outcome: Outcome
    id: UUID | None


def load_automations_file(path: Path = AUTOMATIONS_FILE) -> AutomationsFile:
    """Parse and validate the file with Prefect's own model (`AutomationCore`, what `--from-file` uses)."""
    document, entries = read_entries(path, "automations file", "automations", "automation")
    block = document.get("notification_block")
    if not isinstance(block, str) or not block:
        raise ConfigError(f"automations file {path}: `notification_block` must name a block")
    specs: list[AutomationSpec] = []
    for where, raw in entries:
        notify = raw.get("notify")
        if notify is not None and (not isinstance(notify, dict) or set(notify) != NOTIFY_FIELDS):
            raise ConfigError(f"{where}, field 'notify': expected exactly {sorted(NOTIFY_FIELDS)}")
        try:
            core = AutomationCore.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"{where}, field {field!r}: {first['msg']}") from error
        specs.append(AutomationSpec(core=core, notify=notify, sets_enabled="enabled" in raw))
    require_unique_names(path, "automations file", (spec.core.name for spec in specs))
    return AutomationsFile(notification_block=block, automations=tuple(specs))


def configured_api_url() -> str:
    """The Prefect API that PREFECT_API_URL (or the active Prefect profile) names; refuses an ephemeral one."""
    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "no Prefect API configured: an ephemeral server would discard the automations; set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api for `prefect server start`) or run `prefect cloud login`"
        )
    return url


def webhook_block(name: str, url: str) -> CustomWebhookNotificationBlock:
    """The block the webhook alerts go through: `{"text": subject + body}`, the message Slack and Teams take."""
    return CustomWebhookNotificationBlock(
        name=name,
        url="{{" + WEBHOOK_URL_KEY + "}}",  # the URL itself stays in `secrets`, stored encrypted, shown masked
        json_data={"text": "{{subject}}\n{{body}}"},
        secrets={WEBHOOK_URL_KEY: url},
    )


def _block_values(block: CustomWebhookNotificationBlock) -> dict[str, Any]:
    """The block's fields, its secrets revealed (a saved block's dump also carries its document id and name)."""
    fields = set(type(block).model_fields) - {"secrets"}
    return {**block.model_dump(mode="json", include=fields), "secrets": block.secrets.get_secret_value()}


def _blocks_named(client: SyncPrefectClient, name: str) -> list[BlockDocument]:
    """Every (named) block document called `name`, whatever its type."""
    response = client.request(
        "POST",
        "/block_documents/filter",
        json={"block_documents": {"name": {"any_": [name]}}, "include_secrets": False},
    )
    return BlockDocument.model_validate_list(response.json())


def _block_type(document: BlockDocument) -> str:
    return document.block_type.slug if document.block_type else str(document.block_type_id)


def ensure_notification_block(
    client: SyncPrefectClient, name: str, webhook_url: str | None, dry_run: bool
) -> Applied | None:
    """The block alerts go to: written from `webhook_url` when given, else one of that name that exists, else None."""
    found = _blocks_named(client, name)
    if webhook_url is None:
        if not found:
            return None
        if len(found) > 1:
            types = sorted(_block_type(document) for document in found)
            raise ConfigError(f"notification block {name!r}: one name, several block types {types}; keep one")
        [document] = found
        if "notify" not in (document.block_schema.capabilities if document.block_schema else []):
            raise ConfigError(f"block {name!r} (type {_block_type(document)}) cannot send notifications")
        return Applied("notification block", name, Outcome.USED, document.id)
    others = [document for document in found if _block_type(document) != WEBHOOK_BLOCK_TYPE]
    if others:
        raise ConfigError(
            f"notification block {name!r} exists with type {_block_type(others[0])}, and ECOM_FAILURE_WEBHOOK_URL "
            f"is set: unset it to use that block, or delete the block to let this command write a {WEBHOOK_BLOCK_TYPE}"
        )
    wanted = webhook_block(name, webhook_url)
    if found:
        [document] = found
        stored = client.read_block_document(document.id, include_secrets=True).data
        # Not `Block.load`: it emits an event, and the CLI would then wait at exit for Prefect's event worker.
        if _block_values(CustomWebhookNotificationBlock.model_validate(stored)) == _block_values(wanted):
            return Applied("notification block", name, Outcome.UNCHANGED, document.id)
        outcome = Outcome.UPDATED
    else:
        outcome = Outcome.CREATED
    if dry_run:
        return Applied("notification block", name, outcome, found[0].id if found else None)
    return Applied("notification block", name, outcome, wanted.save(name, overwrite=True))


def desired_automation(spec: AutomationSpec, block_id: UUID | None, existing: Automation | None) -> AutomationCore:
    """What the server should hold for `spec`: its notify turned into an action to the block, if there is one."""
    data = spec.core.model_dump(mode="json")
    if spec.notify is not None and block_id is not None:
        action = {"type": "send-notification", "block_document_id": str(block_id), **spec.notify}
        data["actions"] = [*data["actions"], action]
    if existing is not None and not spec.sets_enabled:
        data["enabled"] = existing.enabled
    # Every field set, as an update replaces them all; but `owner_resource`, which the API takes at creation only
    # (and which none of ours has: they belong to no deployment).
    del data["owner_resource"]
    return AutomationCore.model_validate(data)


def _as_core(automation: Automation) -> AutomationCore:
    return AutomationCore.model_validate(automation.model_dump(mode="json", exclude={"id"}))


def apply_automations(settings: Settings, path: Path = AUTOMATIONS_FILE, *, dry_run: bool = False) -> list[Applied]:
    """Create or update, by name, the notification block and every automation of `path` on the configured API.

    Reads everything first: a name held by several automations on the server stops the run before any write.
    """
    spec_file = load_automations_file(path)
    api_url = configured_api_url()
    webhook_url = settings.failure_webhook_url.get_secret_value() if settings.failure_webhook_url else None
    try:
        with get_client(sync_client=True) as client:
            existing: dict[str, Automation | None] = {}
            for spec in spec_file.automations:
                found = client.read_automations_by_name(spec.core.name)
                if len(found) > 1:
                    ids = ", ".join(str(automation.id) for automation in found)
                    raise ConfigError(
                        f"automation {spec.core.name!r}: {len(found)} on {api_url} ({ids}); delete all but one "
                        "with `prefect automation delete --id ...`, then apply again"
                    )
                existing[spec.core.name] = found[0] if found else None
            block = ensure_notification_block(client, spec_file.notification_block, webhook_url, dry_run)
            block_id = None if block is None else block.id or NO_BLOCK_YET
            results = [] if block is None else [block]
            for spec in spec_file.automations:
                results.append(_apply_one(client, spec, block_id, existing[spec.core.name], dry_run))
    except PrefectHTTPStatusError as error:  # 401/403: a wrong PREFECT_API_KEY; 5xx: the server's trouble
        status = error.response.status_code
        message = f"Prefect API {api_url} answered {status}: {one_line(error)}"
        raise PipelineError(message, transient=status >= 500) from error
    except httpx.TransportError as error:  # refused, unknown host, timeout
        raise PipelineError(f"Prefect API {api_url} unreachable: {one_line(error)}", transient=True) from error
    return results


def _apply_one(
    client: SyncPrefectClient, spec: AutomationSpec, block_id: UUID | None, existing: Automation | None, dry_run: bool
) -> Applied:
    wanted = desired_automation(spec, block_id, existing)
    if existing is not None and _as_core(existing) == wanted:
        return Applied("automation", spec.core.name, Outcome.UNCHANGED, existing.id)
    try:
        if existing is None:
            new_id = None if dry_run else client.create_automation(wanted)
            return Applied("automation", spec.core.name, Outcome.CREATED, new_id)
        if not dry_run:
            client.update_automation(existing.id, wanted)
        return Applied("automation", spec.core.name, Outcome.UPDATED, existing.id)
    except PrefectHTTPStatusError as error:
        if error.response.status_code >= 500:
            raise
        detail = one_line(error.response.text)[:300]  # the server's validation message, e.g. a bad template
        raise ConfigError(f"automation {spec.core.name!r}: refused by the Prefect API: {detail}") from error
