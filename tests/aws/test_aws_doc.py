"""docs/aws.md's commands that run without a real account, run as pasted against the local emulators.

The warehouse commands go to the Snowflake emulator, `glue deploy` to the AWS emulator (the IAM-enforcing one,
whose Glue has UpdateJob), the Prefect commands to the session's test server. Blocks the doc's commands save
there are removed again: the aws-profile flows of other tests load blocks of those names.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_stack import client
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from doc_blocks import doc_block, run_block

from ecom_pipeline.blocks import block_names
from ecom_pipeline.runtime.fakesnow_server import FakesnowEmulator
from ecom_pipeline.runtime.iam_emulator import IamEmulator
from ecom_pipeline.transform.job_package import package_zip

DOC = "docs/aws.md"
JOB = "ecom-orders-transform"
ROLE = "arn:aws:iam::123456789012:role/ecom-glue-orders-job"
# What a job made by hand (or an older deploy) carries besides our fields: deploy must keep all of it.
EXISTING_JOB = {
    "Role": ROLE,
    "Command": {"Name": "glueetl", "ScriptLocation": "s3://old-scripts/old.py", "PythonVersion": "3"},
    "GlueVersion": "3.0",
    "WorkerType": "G.1X",
    "NumberOfWorkers": 10,
    "MaxRetries": 2,
    "ExecutionProperty": {"MaxConcurrentRuns": 1},
    "DefaultArguments": {"--TempDir": "s3://ecom-scripts/glue-temp/", "--enable-metrics": "true"},
}


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


def aws_names() -> dict[str, str]:
    """The step 2 exports, as the stack outputs would give them."""
    return {
        "ECOM_PROFILE": "aws",
        "ECOM_RAW_BUCKET": "ecom-raw-123456789012-us-east-1",
        "ECOM_CURATED_BUCKET": "ecom-curated-123456789012-us-east-1",
        "ECOM_GLUE_SCRIPT_BUCKET": "ecom-scripts",
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


def test_glue_deploy_block_keeps_what_an_existing_job_carries(tmp_path: Path) -> None:
    with IamEmulator() as emulator:  # its Glue has UpdateJob, which replaces a definition as Glue's does
        setup = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin"}
        client("s3", emulator.endpoint_url, setup).create_bucket(Bucket="ecom-scripts")
        glue = client("glue", emulator.endpoint_url, setup)
        glue.create_job(Name=JOB, **EXISTING_JOB)
        env = {
            **aws_names(),
            "AWS_ENDPOINT_URL": emulator.endpoint_url,
            "ECOM_GLUE_ROLE_ARN": "",  # not set: the existing job keeps its role
            "ECOM_WORK_DIR": str(tmp_path),
        }
        completed = run_block(doc_block(DOC, "aws-glue-deploy"), env=env)
        job = glue.get_job(JobName=JOB)["Job"]
        s3 = client("s3", emulator.endpoint_url, setup)
        script = s3.get_object(Bucket="ecom-scripts", Key="glue-scripts/orders_job.py")["Body"].read()
        package = s3.get_object(Bucket="ecom-scripts", Key="glue-scripts/spark_jobs.zip")["Body"].read()

    assert f"Glue job {JOB} updated" in completed.stdout
    assert job["Command"]["ScriptLocation"] == "s3://ecom-scripts/glue-scripts/orders_job.py"
    assert (job["GlueVersion"], job["NumberOfWorkers"], job["Role"], job["MaxRetries"]) == ("4.0", 2, ROLE, 2)
    assert job["DefaultArguments"] == {
        **EXISTING_JOB["DefaultArguments"],
        "--job-language": "python",
        "--extra-py-files": "s3://ecom-scripts/glue-scripts/spark_jobs.zip",
    }
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert script == (Path(__file__).resolve().parents[2] / "spark_jobs" / "orders_job.py").read_bytes()
    assert package == package_zip()


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
    assert deployment.work_pool_name == "ecom-aws"
    assert [schedule.schedule.cron for schedule in deployment.schedules] == ["0 3 * * *"]
    assert [run.deployment_id for run in runs] == [deployment.id]
    assert remaining == [] and "ecom-aws" not in pools
