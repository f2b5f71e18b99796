"""The `aws` profile flow under IAM enforcement: the template's identities are enough, and each grant is needed.

The stack is deployed from infra/ecom-pipeline.yaml into an emulator that authorises every request against IAM
(`iam_emulator`). The flow runs with the worker role's temporary keys, as an EC2 worker gets
them from its instance profile; the Glue job runs with the Glue role's keys (`local_glue.LocalGlue`, at the Glue
client boundary only); the warehouse emulator reads S3 with the Snowflake role's keys, taken as Snowflake's IAM
user with the external ID. The positive run deploys the stack with a summary prefix other than the default, as a
user may, and exports it as docs/aws.md does (ECOM_SUMMARY_PREFIX from the SummaryPrefix output). It ends with the
snapshot's exact KPIs, the job's summary and reuse marker under that prefix, and not one refused request; each
negative twin takes one needed grant out of the parsed template and shows the run failing on exactly that action,
before any Spark job starts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_stack import Stack, as_env, client
from botocore.exceptions import ClientError
from iam_emulator import IamEmulator
from local_glue import LocalGlue

from ecom_local.api.data import DirectorySource
from ecom_local.api.server import ApiServer
from ecom_local.emulators.fakesnow_server import FakesnowEmulator
from ecom_pipeline.land.raw_zone import manifest_key, read_manifest
from ecom_pipeline.settings import load_settings
from ecom_pipeline.transform import launchers
from ecom_pipeline.transform.incremental import forget_all_after_a_dead_job, marker_key, reusable_summary
from ecom_pipeline.transform.partitions import unknown_job_key
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline
from oracle import expected_kpis, expected_orders

RUN_DATE = date(2026, 6, 17)
SECRET_NAME = "ecom/pipeline"  # pragma: allowlist secret - a name, not a value
# The warehouse emulator takes any password; the run reads it from the secret, as the worker's role allows.
SECRET_VALUE = '{"snowflake_password": "emulator-password"}'  # pragma: allowlist secret - the emulator's
SUMMARY_PREFIX = "run-summaries"  # not the template's default: every reader and writer must follow the setting


@pytest.fixture(scope="module")
def api_server(dummyjson_dir: Path) -> Iterator[str]:
    """The embedded DummyJSON API serving the real 2026-06 snapshot."""
    server = ApiServer(DirectorySource(dummyjson_dir))
    yield server.start().url
    server.stop()


def flow_env(stack: Stack, api_url: str, work: Path, warehouse: tuple[str, int] | None) -> dict[str, str]:
    """The worker's environment on the aws profile: the stack's outputs, the worker's keys, the emulators."""
    outputs = stack.outputs
    env = {
        "ECOM_PROFILE": "aws",
        "ECOM_WORK_DIR": str(work),
        "ECOM_API_BASE_URL": api_url,
        "ECOM_RAW_BUCKET": outputs["RawBucketName"],
        "ECOM_CURATED_BUCKET": outputs["CuratedBucketName"],
        "ECOM_GLUE_JOB_NAME": outputs["GlueJobName"],
        "ECOM_SUMMARY_PREFIX": outputs["SummaryPrefix"],
        "ECOM_GLUE_POLL_SECONDS": "0.5",
        "ECOM_SECRET_ID": outputs["PipelineSecretName"],
        "SNOWFLAKE_AWS_ROLE_ARN": outputs["SnowflakeRoleArn"],
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        **as_env(stack.worker_keys()),
    }
    if warehouse is not None:
        host, port = warehouse
        env.update(SNOWFLAKE_HOST=host, SNOWFLAKE_PORT=str(port), SNOWFLAKE_PROTOCOL="http", SNOWFLAKE_EMULATOR="true")
    return env


def run_flow(
    stack: Stack, api_url: str, work: Path, monkeypatch: pytest.MonkeyPatch, warehouse: tuple[str, int] | None = None
) -> tuple[Any, Any, list[LocalGlue]]:
    """Run the flow once as the worker; return (state, summary or error, the Glue clients it used)."""
    for name, value in flow_env(stack, api_url, work, warehouse).items():
        monkeypatch.setenv(name, value)
    glue_clients: list[LocalGlue] = []
    real_glue_client = launchers.make_glue_client

    def glue_client(storage: Any) -> LocalGlue:
        local = LocalGlue(
            real_glue_client(storage), stack.endpoint_url, stack.principals["glue.amazonaws.com"], load_settings()
        )
        glue_clients.append(local)
        return local

    monkeypatch.setattr(launchers, "make_glue_client", glue_client)
    reset_faults()
    state = ecom_pipeline(
        PipelineParameters(run_date=RUN_DATE, page_size=50, report_dir=str(work / "report")), return_state=True
    )
    for local in glue_clients:
        local.join()
    return state, state.result(raise_on_failure=False), glue_clients


def test_the_stack_identities_run_the_whole_flow_with_iam_enforced(
    prefect_harness: None,
    deploy: Any,
    iam_emulator: IamEmulator,
    api_server: str,
    dummyjson_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = deploy({SECRET_NAME: SECRET_VALUE}, parameters={"SummaryPrefix": SUMMARY_PREFIX})
    storage_env = {"AWS_ENDPOINT_URL": stack.endpoint_url, "AWS_DEFAULT_REGION": "us-east-1"}
    with FakesnowEmulator(env={**storage_env, **as_env(stack.snowflake_keys())}) as warehouse:
        state, summary, glue_clients = run_flow(
            stack, api_server, tmp_path, monkeypatch, warehouse=(warehouse.host, warehouse.port or 0)
        )

    assert state.is_completed(), f"{state.message}\n{iam_emulator.denials()}"
    assert iam_emulator.denials() == [] and "AuthFailure:" not in iam_emulator.log()
    expected = expected_kpis(expected_orders(dummyjson_dir))
    assert summary.kpis["total_orders"] == expected["total_orders"] == 800
    assert Decimal(summary.kpis["total_revenue"]) == expected["total_revenue"] == Decimal("3834278.63")
    assert Decimal(summary.kpis["total_profit"]) == expected["total_profit"] == Decimal("1533721.12")
    assert summary.transform.rows_written == 800 and summary.transform.reused is False
    # The job ran in Glue's place, as the job's role, with the script this run uploaded.
    (run,) = [run for local in glue_clients for run in local.runs.values()]
    assert run["JobRunState"] == "SUCCEEDED"
    assert run["identity"].startswith("arn:aws:sts::123456789012:assumed-role/ecom-glue-orders-job/")
    # The job wrote its summary, and the transform its reuse marker, under the deployed prefix (listed as the worker).
    worker_s3 = client("s3", stack.endpoint_url, stack.worker_keys())
    listed = worker_s3.list_objects_v2(Bucket=stack.outputs["CuratedBucketName"], Prefix=f"{SUMMARY_PREFIX}/")
    keys = sorted(entry["Key"] for entry in listed.get("Contents", []))
    assert keys == [
        f"{SUMMARY_PREFIX}/latest/ingest_date={RUN_DATE}.json",
        f"{SUMMARY_PREFIX}/run_id={summary.transform.run_id}.json",
    ], keys


def without(
    template: dict[str, Any], resource: str, sid: str, action: str | None = None, key: str | None = None
) -> None:
    """Take a statement (or one action of it, or the resource ARNs naming `key`) out of a resource's policies in
    the parsed template."""
    properties = template["Resources"][resource]["Properties"]
    documents = [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
    documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    for document in documents:
        for statement in document["Statement"]:
            if statement.get("Sid") != sid:
                continue
            if key is not None:
                arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                kept = [arn for arn in arns if key not in str(arn)]
                assert len(kept) < len(arns), f"{resource}/{sid} names no {key}"
                statement["Resource"] = kept
                return
            if action is None:
                document["Statement"].remove(statement)
                return
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert action in actions, f"{resource}/{sid} does not grant {action}"
            statement["Action"] = [name for name in actions if name != action]
            return
    raise AssertionError(f"{resource} has no statement {sid}")


@pytest.mark.parametrize(
    ("resource", "sid", "action", "key", "denied"),
    [
        # The worker may not start the job: the run stops at transform, naming the action.
        ("WorkerPolicy", "RunGlueJob", "glue:StartJobRun", None, "glue:StartJobRun"),
        # Without listing rights, S3 answers 403 for the first manifest, which does not exist yet.
        ("WorkerPolicy", "ListRawZone", None, None, "s3:ListBucket"),
        # The worker may upload the entry script but not the job's package beside it: transform stops there.
        ("WorkerPolicy", "UploadJobScript", None, "spark_jobs.zip", "s3:PutObject"),
        # The Glue role may not write EMRFS's folder markers: the Glue run fails before Spark starts.
        ("GlueJobRole", "WriteFolderMarkers", None, None, "s3:PutObject"),
        # The Glue role may not ask a bucket's region, as AWS's own policy for Glue's role allows: the same.
        ("GlueJobRole", "LocateBuckets", None, None, "s3:GetBucketLocation"),
    ],
    ids=[
        "worker-start-job-run",
        "worker-list-raw-zone",
        "worker-upload-package",
        "glue-folder-markers",
        "glue-bucket-location",
    ],
)
def test_a_grant_taken_out_of_the_template_fails_the_run_on_that_action(
    prefect_harness: None,
    template: dict[str, Any],
    deploy: Any,
    iam_emulator: IamEmulator,
    api_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    resource: str,
    sid: str,
    action: str | None,
    key: str | None,
    denied: str,
) -> None:
    without(template, resource, sid, action, key)
    stack = deploy({SECRET_NAME: SECRET_VALUE})
    state, error, glue_clients = run_flow(stack, api_server, tmp_path, monkeypatch)

    assert state.is_failed()
    assert f"not authorized to perform: {denied}" in str(error), str(error)
    assert key is None or key in str(error)  # refused on exactly the key taken out
    assert all(f"perform: {denied} " in line for line in iam_emulator.denials()), iam_emulator.denials()
    assert iam_emulator.denials()
    spark_runs = [run for local in glue_clients for run in local.runs.values() if run.get("identity")]
    assert spark_runs == []  # failed before any Spark job


def test_a_403_for_a_first_runs_missing_keys_reads_as_missing_and_says_so(
    template: dict[str, Any], deploy: Any, iam_emulator: IamEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # S3's docs do not say which s3:prefix, if any, the ListBucket check behind a missing key's 404 carries
    # (ecom_pipeline/aws.py). Without the listing grants, the emulator answers a first run's reads as S3 then would:
    # the manifest, the unknown-job note (raw zone) and the date's reuse marker (curated zone), none there yet.
    without(template, "WorkerPolicy", "ListRawZone")
    without(template, "WorkerPolicy", "ListJobSummaries")
    stack = deploy()
    outputs = stack.outputs
    settings = load_settings().updated(
        top={"run_date": RUN_DATE},
        storage={"raw_bucket": outputs["RawBucketName"], "curated_bucket": outputs["CuratedBucketName"]},
    )
    storage = settings.storage
    worker_s3 = client("s3", stack.endpoint_url, stack.worker_keys())
    key = manifest_key(storage, "carts", RUN_DATE)

    with caplog.at_level(logging.WARNING, logger="ecom_pipeline.aws"):
        assert read_manifest(worker_s3, storage, "carts", RUN_DATE) is None
        forget_all_after_a_dead_job(settings, worker_s3)  # reads the note: none, so nothing to forget
        assert reusable_summary(settings, worker_s3, "a-fingerprint") is None  # reads the marker: none
    denied = [line for line in iam_emulator.denials() if "perform: s3:ListBucket " in line]
    assert len(denied) == 3, iam_emulator.denials()  # S3 did answer 403, three times
    for bucket, missing in (
        (storage.raw_bucket, key),
        (storage.raw_bucket, unknown_job_key(settings)),
        (storage.curated_bucket, marker_key(storage, RUN_DATE)),
    ):
        assert f"S3 answered AccessDenied for s3://{bucket}/{missing}: read as missing" in caplog.text
    worker_s3.put_object(Bucket=storage.raw_bucket, Key=key, Body=json.dumps({"record_count": 3}).encode())
    assert read_manifest(worker_s3, storage, "carts", RUN_DATE) == {"record_count": 3}  # one that is there is read


def test_a_source_account_condition_on_the_glue_trust_would_refuse_glue(template: dict[str, Any], deploy: Any) -> None:
    # The emulator's Glue sets no aws:SourceAccount, as no Glue page says Glue does (infra/ecom-pipeline.yaml): with
    # the condition the template once had, Glue could not take the job's role, and every run would fail.
    (trust,) = template["Resources"]["GlueJobRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    trust["Condition"] = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    stack = deploy()
    with pytest.raises(ClientError, match="not authorized to perform: sts:AssumeRole"):
        stack.assume("GlueJobRoleArn", "glue.amazonaws.com", "GlueJobRunnerSession")
