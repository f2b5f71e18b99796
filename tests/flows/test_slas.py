"""flows/slas.yaml: Prefect Cloud SLAs of the `aws` deployment, checked with Prefect's own models, sent by Prefect's own
client to a loopback stand-in for Cloud, and skipped in one line on a real open-source server.

| contract | source |
|---|---|
| SLA types and fields (time to completion `duration`, frequency `stale_after`, lateness `within`) | prefect 3.9 `prefect/_experimental/sla/objects.py`; docs.prefect.io "Measure reliability with Service Level Agreements" |
| freshness SLA fields (`within`, `resource_match`, `expected_event`) | Prefect's Terraform provider, `prefect_resource_sla` (docs/resources/resource_sla.md) |
| the request: `POST /slas/apply-resource-slas/prefect.deployment.<id>`, a JSON list of `model_dump(mode="json", exclude_unset=True)` | prefect 3.9 `prefect/_experimental/sla/client.py` |
| "Cloud" is an API URL under `PREFECT_CLOUD_API_URL`; `prefect deploy` with `sla:` fails elsewhere | prefect 3.9 `prefect/client/base.py` (`determine_server_type`), `prefect/cli/deploy/_sla.py` |
"""  # noqa: E501

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect._experimental.sla.objects import FrequencySla, ServiceLevelAgreement, TimeToCompletionSla
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.responses import DeploymentResponse
from prefect.workers.process import ProcessWorker
from prefect_support import REPO_ROOT, PrefectServer, prefect_client, read_deployment

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings
from flows.assets import orders_table_asset
from flows.slas import PREFECT_SLAS, SLAS_FILE, FreshnessSla, load_slas_file

DEPLOYMENT_ID = uuid.UUID("6f1c6d2e-0000-4000-8000-00000000a115")
WORKSPACE = "api/accounts/11111111-2222-4333-8444-555555555555/workspaces/66666666-7777-4888-8999-000000000000"
API_KEY = f"pnu_test_{uuid.uuid4().hex}"
ACCOUNT_ENV = {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_DATABASE": "ECOM", "SNOWFLAKE_SCHEMA": "ANALYTICS"}


def aws_settings() -> Settings:
    """The settings of the machine that applies the SLAs (docs/aws.md, step 2's exports)."""
    return Settings().updated(snowflake={"account": "myorg-myaccount", "database": "ECOM", "schema_name": "ANALYTICS"})


def test_the_definitions_validate_with_prefects_own_sla_models() -> None:
    slas = {sla.name: sla for sla in load_slas_file(aws_settings()).slas}
    raw = {entry["name"]: entry for entry in yaml.safe_load(SLAS_FILE.read_text())["slas"]}

    duration = slas["ecom-pipeline aws run completes within 30 minutes"]
    daily = slas["ecom-pipeline aws completes a run at least daily"]
    fresh = slas["ecom-pipeline warehouse orders fresh within 26 hours"]
    assert type(duration) is TimeToCompletionSla and duration.duration == 1800
    assert type(daily) is FrequencySla and daily.stale_after == timedelta(hours=26)
    # What `prefect deploy --sla` validates an entry with reads the first two the same way.
    for name in (duration.name, daily.name):
        assert PREFECT_SLAS.validate_python(raw[name]) == slas[name]
    assert isinstance(fresh, FreshnessSla) and isinstance(fresh, ServiceLevelAgreement)
    assert fresh.within == timedelta(hours=26)
    assert fresh.expected_event == "prefect.asset.materialization.succeeded"
    assert fresh.resource_match == {"prefect.resource.id": orders_table_asset(aws_settings()).key}
    assert fresh.resource_match["prefect.resource.id"] == "snowflake://myorg-myaccount/ECOM/ANALYTICS/ORDERS"
    assert {sla.severity for sla in slas.values()} == {"high"}
    # The run-time bound stays inside what the flow's own task timeouts allow a run (transform alone: 2 h).
    assert duration.duration < 7200


def test_a_field_prefects_models_would_drop_is_refused(tmp_path: Path) -> None:
    """Prefect's models ignore unknown fields: a misspelt `stale_afte` would leave an SLA with no bound."""
    bad = tmp_path / "slas.yaml"
    bad.write_text(
        "deployment: ecom-pipeline/aws\nslas:\n  - {name: daily, duration: 60, stale_afte: 60}\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"SLA 'daily': field\(s\) \['stale_afte'\] are not fields of TimeToCompletionSla"
    ):
        load_slas_file(aws_settings(), bad)


class CloudStandIn:
    """A loopback HTTP server answering the two calls Prefect's client makes to Cloud to apply SLAs; records all."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                if self.command == "GET" and self.path == f"/{WORKSPACE}/deployments/name/ecom-pipeline/aws":
                    payload = DeploymentResponse(id=DEPLOYMENT_ID, name="aws", flow_id=uuid.uuid4())
                    self._send(200, payload.model_dump(mode="json"))
                elif self.command == "POST" and self.path.startswith(f"/{WORKSPACE}/slas/apply-resource-slas/"):
                    self._send(200, {"created": json.loads(body), "updated": [], "deleted": [{"name": "an old one"}]})
                else:
                    self._send(404, {"detail": "Not Found"})

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CloudStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def cloud() -> Iterator[CloudStandIn]:
    with CloudStandIn() as stand_in:
        yield stand_in


def apply_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ecom-pipeline slas apply` in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ecom_cli", "slas", "apply"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_on_cloud_the_command_sends_prefects_own_sla_request(cloud: CloudStandIn, tmp_path: Path) -> None:
    env = {
        **{name: value for name, value in __import__("os").environ.items() if not name.startswith("PREFECT_")},
        **ACCOUNT_ENV,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_CLOUD_API_URL": f"{cloud.url}/api",  # what makes Prefect call an API URL "Cloud"
        "PREFECT_API_URL": f"{cloud.url}/{WORKSPACE}",
        "PREFECT_API_KEY": API_KEY,
    }

    completed = apply_cli(env)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    [posted] = [request for request in cloud.requests if "/slas/" in request["path"]]
    assert posted["method"] == "POST"
    assert posted["path"] == f"/{WORKSPACE}/slas/apply-resource-slas/prefect.deployment.{DEPLOYMENT_ID}"
    assert posted["headers"]["Authorization"] == f"Bearer {API_KEY}"
    owner = f"prefect.deployment.{DEPLOYMENT_ID}"
    assert json.loads(posted["body"]) == [
        {"name": "ecom-pipeline aws run completes within 30 minutes", "severity": "high", "duration": 1800,
         "owner_resource": owner},
        {"name": "ecom-pipeline aws completes a run at least daily", "severity": "high", "stale_after": 93600.0,
         "owner_resource": owner},
        {"name": "ecom-pipeline warehouse orders fresh within 26 hours", "severity": "high", "within": 93600.0,
         "resource_match": {"prefect.resource.id": "snowflake://myorg-myaccount/ECOM/ANALYTICS/ORDERS"},
         "expected_event": "prefect.asset.materialization.succeeded", "owner_resource": owner},
    ]  # fmt: skip
    assert completed.stdout.strip() == (
        f"SLAs of ecom-pipeline/aws on {cloud.url}/{WORKSPACE}: 3 created (ecom-pipeline aws run completes within "
        "30 minutes, ecom-pipeline aws completes a run at least daily, ecom-pipeline warehouse orders fresh within "
        "26 hours), 0 updated, 1 deleted (an old one)"
    )
    assert API_KEY not in completed.stdout + completed.stderr


def test_on_an_open_source_server_the_command_skips_in_one_line_and_prefect_deploy_still_succeeds(
    prefect_server: PrefectServer,
) -> None:
    env = {**prefect_server.env, **ACCOUNT_ENV}

    completed = apply_cli(env)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    [line] = completed.stdout.splitlines()
    assert line.startswith(f"skipped: not Prefect Cloud ({prefect_server.api_url}); "), line
    # prefect.yaml carries no `sla:` (prefect deploy would refuse it here), and deploys `aws` as before.
    project = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    assert not [d["name"] for d in project["deployments"] if "sla" in d]
    with prefect_client(prefect_server.api_url) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name="ecom-aws",
                type=ProcessWorker.type,
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ),
            overwrite=True,
        )
    deployed = prefect_server.cli("deploy", "--name", "aws")
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]
    assert read_deployment(prefect_server.api_url, "aws").work_pool_name == "ecom-aws"
