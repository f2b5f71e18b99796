"""docs/aws.md's commands that run without a real account, run as pasted against the local emulators.

The warehouse commands go to the Snowflake emulator, the Prefect commands to the session's test server. Blocks the
doc's commands save there are removed again: the aws-profile flows of other tests load blocks of those names.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from doc_blocks import REPO_ROOT, doc_block, run_block
from prefect_support import stop_group
from snowflake_login import LoginRecorder, make_key_pair, verified_jwt_claims

from ecom_local.emulators.fakesnow_server import FakesnowEmulator
from ecom_local.emulators.s3 import EMULATOR_REGION
from ecom_pipeline.credentials.blocks import block_names
from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse.connection import bootstrap_session, connect_kwargs

DOC = "docs/aws.md"
JOB = "ecom-orders-transform"


@pytest.fixture(scope="module")
def prefect_env(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a shell whose Prefect CLI talks to the session's test server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_HOME": str(tmp_path_factory.mktemp("doc-prefect-home")),
        "ECOM_WORK_DIR": str(tmp_path_factory.mktemp("doc-work")),
    }
    yield env
    with get_client(sync_client=True) as prefect:  # the doc's blocks must not reach other tests' aws flows
        for name in block_names().values():
            for document in prefect.read_block_documents():
                if document.name == name:
                    prefect.delete_block_document(document.id)


# Passphrases of the key pairs the bootstrap tests make, not secrets of anyone's.
PIPELINE_KEY_PASSPHRASE = "pipeline-pass-Pp4"  # pragma: allowlist secret
ADMIN_KEY_PASSPHRASE = "admin-pass-Ap4"  # pragma: allowlist secret


def aws_names() -> dict[str, str]:
    """The step 2 exports, as the stack outputs would give them."""
    return {
        "ECOM_PROFILE": "aws",
        "ECOM_RAW_BUCKET": "ecom-raw-123456789012-us-east-1",
        "ECOM_CURATED_BUCKET": "ecom-curated-123456789012-us-east-1",
        "ECOM_GLUE_JOB_NAME": JOB,
        "ECOM_SECRET_ID": "ecom/pipeline",
        "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
        "SNOWFLAKE_USER": "ECOM_PIPELINE",
    }


def test_keypair_block_makes_an_encrypted_key_and_prints_the_alter_user_statement(tmp_path: Path) -> None:
    completed = run_block(doc_block(DOC, "aws-keypair"), env={"HOME": str(tmp_path)})

    folder = tmp_path / ".ecom-keys"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for private in ("rsa_key.p8", "rsa_key.passphrase"):
        assert oct((folder / private).stat().st_mode & 0o777) == "0o600", private
    pem = (folder / "rsa_key.p8").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    passphrase = (folder / "rsa_key.passphrase").read_text().strip().encode()
    key = load_pem_private_key(pem, password=passphrase)
    assert key.key_size == 2048
    public_der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    expected = base64.b64encode(public_der).decode()
    assert completed.stdout.strip() == f"ALTER USER ECOM_PIPELINE SET RSA_PUBLIC_KEY = '{expected}';"


def test_bootstrap_block_creates_the_warehouse_objects_on_the_emulator(s3_emulator: Any, tmp_path: Path) -> None:
    storage = {"AWS_ENDPOINT_URL": s3_emulator.endpoint_url}
    with FakesnowEmulator(env=storage, db_path=tmp_path / "warehouse") as warehouse:
        env = {
            **storage,
            **aws_names(),
            "ECOM_SECRET_ID": "",  # the bootstrap runs before the secret exists (step 4 before step 6)
            "ECOM_PROFILE": "local",
            "SNOWFLAKE_HOST": warehouse.host,
            "SNOWFLAKE_PORT": str(warehouse.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_EMULATOR": "true",
            "SNOWFLAKE_BOOTSTRAP_USER": "MY_ADMIN_USER",
            "ECOM_WORK_DIR": str(tmp_path / "work"),
        }
        completed = run_block(doc_block(DOC, "aws-bootstrap"), env=env)
    assert "ready" in completed.stdout and "ORDERS" in completed.stdout.upper(), completed.stdout


def test_bootstrap_again_after_step_6_signs_in_as_the_admin_with_the_admins_own_key(
    s3_emulator: Any, tmp_path: Path
) -> None:
    """Step 4 once, then again with step 6's ECOM_SECRET_ID exported: the pipeline's key never reaches the admin.

    The recording proxy in front of the emulator keeps each login; each JWT is verified with the admin's public key.
    """
    secrets = boto3.client("secretsmanager", endpoint_url=s3_emulator.endpoint_url, region_name=EMULATOR_REGION)
    pipeline_key, admin_key = make_key_pair(PIPELINE_KEY_PASSPHRASE), make_key_pair(ADMIN_KEY_PASSPHRASE)
    secret_id = f"ecom/pipeline-{uuid.uuid4().hex[:8]}"
    secrets.create_secret(
        Name=secret_id,
        SecretString=json.dumps(
            {
                "snowflake_private_key": pipeline_key.private_pem,
                "snowflake_private_key_passphrase": PIPELINE_KEY_PASSPHRASE,
            }
        ),
    )
    admin_key_file = tmp_path / "admin_rsa_key.p8"
    admin_key_file.write_text(admin_key.private_pem)
    storage = {"AWS_ENDPOINT_URL": s3_emulator.endpoint_url}
    with (
        FakesnowEmulator(env=storage, db_path=tmp_path / "warehouse") as warehouse,
        LoginRecorder(warehouse.port) as proxy,
    ):
        env = {
            **storage,
            **aws_names(),
            "ECOM_PROFILE": "local",
            "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(proxy.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_EMULATOR": "true",
            "SNOWFLAKE_BOOTSTRAP_USER": "MY_ADMIN_USER",
            "SNOWFLAKE_PRIVATE_KEY_FILE": str(admin_key_file),  # the admin's own sign-in, as step 4 exports it
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": ADMIN_KEY_PASSPHRASE,
            "ECOM_WORK_DIR": str(tmp_path / "work"),
        }
        first = run_block(doc_block(DOC, "aws-bootstrap"), env={**env, "ECOM_SECRET_ID": ""})  # step 4
        again = run_block(doc_block(DOC, "aws-bootstrap"), env={**env, "ECOM_SECRET_ID": secret_id})  # after step 6

    assert "nothing changed" not in first.stdout
    assert "ready: nothing changed" in " ".join(again.stdout.split()), again.stdout
    assert len(proxy.logins) >= 2
    for login in proxy.logins:
        assert verified_jwt_claims(login, admin_key.public_key)["sub"] == "MYORG-MYACCOUNT.MY_ADMIN_USER"
    for shown in (first.stdout + first.stderr, again.stdout + again.stderr):
        assert [fragment for fragment in pipeline_key.secret_fragments if fragment in shown] == []


def test_an_externalbrowser_bootstrap_keeps_its_sign_in_whatever_the_secret_holds(
    s3_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 4's own example (single sign-on in the browser) with step 6's secret exported: still the browser."""
    secrets = boto3.client("secretsmanager", endpoint_url=s3_emulator.endpoint_url, region_name=EMULATOR_REGION)
    secret_id = f"ecom/pipeline-{uuid.uuid4().hex[:8]}"
    secrets.create_secret(Name=secret_id, SecretString=json.dumps({"snowflake_private_key": "unused-Uk1"}))
    for name, value in {
        **aws_names(),
        "AWS_ENDPOINT_URL": s3_emulator.endpoint_url,
        "ECOM_SECRET_ID": secret_id,
        "SNOWFLAKE_BOOTSTRAP_USER": "MY_ADMIN_USER",
        "SNOWFLAKE_AUTHENTICATOR": "externalbrowser",
    }.items():
        monkeypatch.setenv(name, value)

    session = bootstrap_session(resolve_credentials(load_settings(), bootstrap=True).snowflake)

    assert (session.user, session.private_key) == ("MY_ADMIN_USER", None)
    assert connect_kwargs(session)["authenticator"] == "externalbrowser"
    assert (session.credentials_block.authenticator, session.credentials_block.private_key) == ("externalbrowser", None)
    # The pipeline's own user (no bootstrap user) still reads the secret: it is that user's sign-in.
    monkeypatch.delenv("SNOWFLAKE_BOOTSTRAP_USER")
    monkeypatch.delenv("SNOWFLAKE_AUTHENTICATOR")
    with pytest.raises(ConfigError, match=r"key 'snowflake_private_key' of secret .* is not a PEM private key"):
        resolve_credentials(load_settings(), bootstrap=True)


def _installed(venv: Path) -> list[str]:
    """`uv pip freeze` of the environment at `venv`: every package and its version."""
    frozen = subprocess.run(
        ["uv", "pip", "freeze", "--python", str(venv / "bin" / "python")],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return frozen.stdout.splitlines()


def test_the_worker_starts_as_documented_on_a_no_dev_host_and_installs_nothing(
    prefect_env: dict[str, str], tmp_path: Path
) -> None:
    """Step 8's worker start on a host prepared as the prerequisites say (`uv sync --frozen --no-dev`).

    A plain `uv run` syncs the default groups, dev included, before it runs anything: on a host without PyPI the
    worker would never start. The host's environment is a venv of its own (uv's cache is shared, so it is quick).
    """
    from prefect.client.orchestration import get_client

    venv = tmp_path / "worker-venv"
    env = {
        **{name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"},
        **prefect_env,
        **aws_names(),
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "ECOM_GIT_REPOSITORY": "https://github.com/your-org/ecom-pipeline.git",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    prepared = subprocess.run(
        ["uv", "sync", "--frozen", "--no-dev"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    before = _installed(venv)
    assert not any(line.lower().startswith(("pytest==", "sqlfluff==", "ruff==")) for line in before), before

    block = doc_block(DOC, "aws-worker-start")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.text], cwd=REPO_ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "started!" not in log.read_text():
            assert worker.poll() is None, f"the worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
    finally:
        stop_group(worker, signal.SIGINT)  # Ctrl-C, or systemd's stop
        with get_client(sync_client=True) as prefect:  # the pool the worker created, for the doc's later blocks
            if any(pool.name == "ecom-aws" for pool in prefect.read_work_pools()):
                prefect.delete_work_pool("ecom-aws")

    output = log.read_text()
    assert "Installed" not in output and "Resolved" not in output, output[-4000:]
    assert _installed(venv) == before
    # docs/prefect.md starts the same worker with the same command.
    assert block.text.strip() in (REPO_ROOT / "docs" / "prefect.md").read_text(encoding="utf-8")


def test_prefect_blocks_deploy_run_and_cleanup_blocks(prefect_env: dict[str, str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    env = {**aws_names(), **prefect_env}
    blocks = run_block(doc_block(DOC, "aws-blocks"), env=env)
    run_block(doc_block(DOC, "aws-deploy"), env=env)
    run_block(doc_block(DOC, "aws-run-now"), env=env)
    with get_client(sync_client=True) as prefect:
        saved = {document.name: document for document in prefect.read_block_documents()}
        deployment = prefect.read_deployment_by_name("ecom-pipeline/aws")
        runs = prefect.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["aws"])))
    run_block(doc_block(DOC, "aws-cleanup-prefect"), env=env)
    with get_client(sync_client=True) as prefect:
        remaining = prefect.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["aws"]))
        )
        pools = [pool.name for pool in prefect.read_work_pools()]

    assert set(block_names().values()) <= set(saved), blocks.stdout
    assert saved["ecom-raw"].data["bucket_name"] == "ecom-raw-123456789012-us-east-1"
    # The shell holds AWS keys (the emulators'; a user's own in step 7): the block stores none of them.
    assert not saved["ecom-aws-credentials"].data.get("aws_access_key_id")
    assert "ecom-aws-credentials: no AWS keys (this shell's AWS keys were not stored)" in blocks.stdout
    assert deployment.work_pool_name == "ecom-aws"
    assert [schedule.schedule.cron for schedule in deployment.schedules] == ["0 3 * * *"]
    assert [run.deployment_id for run in runs] == [deployment.id]
    assert remaining == [] and "ecom-aws" not in pools
