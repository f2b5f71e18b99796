"""The CloudFormation template's buckets and IAM policies, resolved to concrete ARNs and checked.

These are the static checks; tests/aws runs the flow with these very policies enforced. Where a grant answers a
documented behaviour, the document is cited next to it:

| grant | why | source |
|---|---|---|
| Glue: `<prefix>_$folder$` keys | EMRFS writes an empty marker per folder it creates | https://repost.aws/knowledge-center/emr-s3-empty-files |
| Glue: GetObject on the bare `<prefix>` key | a file system asks whether the folder is a file first | (s3a and EMRFS `getFileStatus`) |
| ListBucket on the keys a role reads | S3 answers 404 for a missing key only with s3:ListBucket, else 403 | https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html |
| worker: Glue actions on the job ARN | job-level resource permissions | https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html |
| worker: secret ARN `<name>-??????` | Secrets Manager appends six characters to the name | https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html |
| worker: kms:Decrypt via Secrets Manager only | a customer-managed key is used through the service | https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html |
| Glue: s3:GetBucketLocation on its buckets | AWS's own policy for Glue's role grants it | https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html |
| Glue trust: no aws:SourceAccount condition | the key is in the context only where a service sets it; no Glue page says Glue does | https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html |
| Snowflake trust: sts:ExternalId | Snowflake's documented trust policy | https://docs.snowflake.com/en/user-guide/data-load-s3-config-storage-integration |
"""  # noqa: E501

from __future__ import annotations

import re
from typing import Any

import pytest
from cfn_resolve import resolve_template
from infra_paths import AWS_DOC

from ecom_pipeline.settings import StorageSettings
from ecom_pipeline.transform.glue import package_location

RAW, CURATED, SCRIPTS = (f"ecom-{zone}-123456789012-us-east-1" for zone in ("raw", "curated", "scripts"))
S3_READ_ONLY = {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"}
OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:GetObjectVersion"}
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

EXPECTED_GLUE_S3 = {
    f"arn:aws:s3:::{RAW}",
    f"arn:aws:s3:::{RAW}/dummyjson/*",
    f"arn:aws:s3:::{CURATED}",
    f"arn:aws:s3:::{CURATED}/orders/*",
    f"arn:aws:s3:::{CURATED}/quarantine/*",
    f"arn:aws:s3:::{CURATED}/job-summaries/*",
    f"arn:aws:s3:::{CURATED}/orders_$folder$",
    f"arn:aws:s3:::{CURATED}/quarantine_$folder$",
    f"arn:aws:s3:::{CURATED}/job-summaries_$folder$",
    f"arn:aws:s3:::{CURATED}/orders",
    f"arn:aws:s3:::{CURATED}/quarantine",
    f"arn:aws:s3:::{CURATED}/job-summaries",
    f"arn:aws:s3:::{SCRIPTS}",
    f"arn:aws:s3:::{SCRIPTS}/glue-scripts/*",
    f"arn:aws:s3:::{SCRIPTS}/glue-temp/*",
    f"arn:aws:s3:::{SCRIPTS}/glue-temp_$folder$",
    f"arn:aws:s3:::{SCRIPTS}/glue-temp",
}
EXPECTED_SNOWFLAKE_S3 = {f"arn:aws:s3:::{CURATED}", f"arn:aws:s3:::{CURATED}/orders/*"}
# Every call the flow makes from the worker (grep boto3 calls in ecom_pipeline/ and flows/), on exactly its keys.
EXPECTED_WORKER = {
    "s3:ListBucket": {f"arn:aws:s3:::{RAW}", f"arn:aws:s3:::{CURATED}"},
    "s3:GetObject": {f"arn:aws:s3:::{RAW}/dummyjson/*", f"arn:aws:s3:::{CURATED}/job-summaries/*"},
    "s3:PutObject": {
        f"arn:aws:s3:::{RAW}/dummyjson/*",
        f"arn:aws:s3:::{CURATED}/job-summaries/latest/*",  # the transform's reuse markers, one per ingest date
        f"arn:aws:s3:::{SCRIPTS}/glue-scripts/orders_job.py",
        f"arn:aws:s3:::{SCRIPTS}/glue-scripts/spark_jobs.zip",  # the job's package, beside the entry script
    },
    "s3:DeleteObject": {f"arn:aws:s3:::{RAW}/dummyjson/*", f"arn:aws:s3:::{CURATED}/job-summaries/latest/*"},
    **{
        f"glue:{action}": {"arn:aws:glue:us-east-1:123456789012:job/ecom-orders-transform"}
        for action in ("GetJob", "StartJobRun", "GetJobRun", "BatchStopJobRun")
    },
    "secretsmanager:GetSecretValue": {"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecom/pipeline-??????"},
}
WORKER_LIST_PREFIXES = {f"arn:aws:s3:::{RAW}": ["dummyjson/*"], f"arn:aws:s3:::{CURATED}": ["job-summaries/*"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(resources: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every statement of a resolved role's inline policies, or of a resolved managed policy."""
    properties = resources[name]["Properties"]
    documents = [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
    documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    """The template's resources, resolved with the parameter defaults."""
    return resolve_template(template)["Resources"]


def s3_grants(resources: dict[str, Any], name: str) -> list[tuple[set[str], set[str], dict[str, Any]]]:
    """(S3 actions, resources, condition) for each statement of `name` that grants S3 actions."""
    grants = []
    for statement in statements(resources, name):
        assert statement["Effect"] == "Allow"
        actions = set(as_list(statement["Action"]))
        if any(action.startswith("s3:") for action in actions):
            grants.append((actions, set(as_list(statement["Resource"])), statement.get("Condition", {})))
    return grants


@pytest.mark.parametrize(
    ("role", "expected"),
    [("GlueJobRole", EXPECTED_GLUE_S3), ("SnowflakeAccessRole", EXPECTED_SNOWFLAKE_S3)],
)
def test_s3_grants_name_only_the_expected_buckets_and_keys(
    resources: dict[str, Any], role: str, expected: set[str]
) -> None:
    granted = set()
    for actions, arns, _condition in s3_grants(resources, role):
        assert "*" not in arns and not any(arn.endswith(":::*") for arn in arns)
        assert not any("*" in action for action in actions), f"{role}: wildcard action in {actions}"
        granted |= arns
    assert granted == expected


def test_glue_role_covers_what_emrfs_touches_outside_each_prefix(resources: dict[str, Any]) -> None:
    grants = s3_grants(resources, "GlueJobRole")

    def actions_on(arn: str) -> set[str]:
        return set().union(*(actions for actions, arns, _ in grants if arn in arns))

    def listable(bucket: str, key: str) -> bool:
        return any(
            "s3:ListBucket" in actions
            and f"arn:aws:s3:::{bucket}" in arns
            and any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), key) for p in cond["StringLike"]["s3:prefix"])
            for actions, arns, cond in grants
        )

    for prefix in ("orders", "quarantine", "job-summaries"):
        marker = f"arn:aws:s3:::{CURATED}/{prefix}_$folder$"
        assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= actions_on(marker)
        assert actions_on(f"arn:aws:s3:::{CURATED}/{prefix}") == {"s3:GetObject"}  # read, never written
        assert listable(CURATED, f"{prefix}_$folder$") and listable(CURATED, prefix)  # 404, not 403, when absent
        assert listable(CURATED, f"{prefix}/order_date=2026-06-17/part-0.parquet")
    assert not listable(CURATED, "ordersX") and not listable(CURATED, "other/orders")


@pytest.mark.parametrize("name", ["GlueJobRole", "SnowflakeAccessRole", "WorkerPolicy"])
def test_bucket_listing_is_limited_to_prefixes(resources: dict[str, Any], name: str) -> None:
    for actions, arns, condition in s3_grants(resources, name):
        if "s3:ListBucket" in actions:
            assert actions == {"s3:ListBucket"}
            assert all(arn.count("/") == 0 for arn in arns)  # bucket ARNs only
            prefixes = as_list(condition["StringLike"]["s3:prefix"])
            assert prefixes and all(not str(prefix).startswith("*") for prefix in prefixes)


@pytest.mark.parametrize("name", ["GlueJobRole", "SnowflakeAccessRole", "WorkerPolicy"])
def test_object_actions_target_keys_never_a_whole_bucket(resources: dict[str, Any], name: str) -> None:
    for actions, arns, _condition in s3_grants(resources, name):
        if actions & OBJECT_ACTIONS:
            for arn in arns:
                bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
                assert bucket in (RAW, CURATED, SCRIPTS) and key and not key.startswith("*"), arn
                assert "*" not in key[:-1], f"{name}: a wildcard inside {arn}"


def test_worker_policy_grants_exactly_the_flows_calls(resources: dict[str, Any]) -> None:
    granted: dict[str, set[str]] = {}
    for statement in statements(resources, "WorkerPolicy"):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(as_list(statement["Resource"]))
    assert granted == EXPECTED_WORKER
    listings = {
        arn: as_list(statement["Condition"]["StringLike"]["s3:prefix"])
        for statement in statements(resources, "WorkerPolicy")
        if statement["Action"] == "s3:ListBucket"
        for arn in as_list(statement["Resource"])
    }
    assert listings == WORKER_LIST_PREFIXES


def test_worker_may_decrypt_only_with_a_given_key_and_only_through_secrets_manager(template: dict[str, Any]) -> None:
    without_key = resolve_template(template)["Resources"]
    assert not any("kms:Decrypt" in as_list(s["Action"]) for s in statements(without_key, "WorkerPolicy"))
    with_key = resolve_template(template, {"SecretKmsKeyArn": KMS_KEY})["Resources"]
    (decrypt,) = [s for s in statements(with_key, "WorkerPolicy") if "kms:Decrypt" in as_list(s["Action"])]
    assert decrypt["Resource"] == KMS_KEY
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


def test_worker_role_is_for_an_ec2_host_and_carries_the_worker_policy(resources: dict[str, Any]) -> None:
    role = resources["WorkerRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::123456789012:policy/ecom-pipeline-worker"]
    assert "Policies" not in role  # one place for the worker's permissions: the managed policy
    assert resources["WorkerInstanceProfile"]["Properties"]["Roles"] == ["ecom-pipeline-worker"]


def test_snowflake_role_is_read_only_on_the_curated_prefix(resources: dict[str, Any]) -> None:
    grants = s3_grants(resources, "SnowflakeAccessRole")
    actions = set().union(*(actions for actions, _resources, _condition in grants))
    assert actions <= S3_READ_ONLY
    non_s3 = [
        statement
        for statement in statements(resources, "SnowflakeAccessRole")
        if not all(action.startswith("s3:") for action in as_list(statement["Action"]))
    ]
    assert non_s3 == []


def test_snowflake_trust_policy_takes_the_integration_user_and_external_id(template: dict[str, Any]) -> None:
    trust = template["Resources"]["SnowflakeAccessRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "SnowflakeExternalId"}}}
    principal = statement["Principal"]["AWS"]["Fn::If"]
    assert principal[0] == "HasSnowflakeUser" and principal[1] == {"Ref": "SnowflakeIamUserArn"}


def test_glue_trust_policy_has_no_condition_glue_is_not_documented_to_meet(resources: dict[str, Any]) -> None:
    trust = resources["GlueJobRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_glue_role_may_locate_exactly_the_buckets_it_touches(resources: dict[str, Any]) -> None:
    located = set().union(
        *(arns for actions, arns, _ in s3_grants(resources, "GlueJobRole") if "s3:GetBucketLocation" in actions)
    )
    assert located == {f"arn:aws:s3:::{bucket}" for bucket in (RAW, CURATED, SCRIPTS)}


def test_summary_prefix_default_is_the_settings_default_and_an_output(template: dict[str, Any]) -> None:
    assert template["Parameters"]["SummaryPrefix"]["Default"] == StorageSettings.model_fields["summary_prefix"].default
    assert template["Outputs"]["SummaryPrefix"]["Value"] == {"Ref": "SummaryPrefix"}
    assert 'export ECOM_SUMMARY_PREFIX="$(stack_output SummaryPrefix)"' in AWS_DOC.read_text(encoding="utf-8")


def test_non_s3_grants_of_the_glue_role_are_logs_and_metrics(resources: dict[str, Any]) -> None:
    for statement in statements(resources, "GlueJobRole"):
        actions = set(as_list(statement["Action"]))
        if actions & {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}:
            assert as_list(statement["Resource"]) == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/*"]
        elif not all(action.startswith("s3:") for action in actions):
            # PutMetricData has no resource-level permissions, so it must be scoped by namespace.
            assert actions == {"cloudwatch:PutMetricData"}
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}


def test_buckets_are_encrypted_private_and_kept(template: dict[str, Any]) -> None:
    for name in ("RawBucket", "CuratedBucket", "ScriptsBucket"):
        bucket = template["Resources"][name]
        properties = bucket["Properties"]
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
        assert bucket["DeletionPolicy"] == "Retain"


def test_curated_is_versioned_and_raw_ages_out(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["CuratedBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"
    raw_rules = resources["RawBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    aging = next(rule for rule in raw_rules if "ExpirationInDays" in rule)
    assert aging["Transitions"][0]["StorageClass"] == "STANDARD_IA"
    assert aging["ExpirationInDays"] == {"Ref": "RawExpirationDays"}


def test_glue_job_runs_glue_4_from_the_scripts_location(resources: dict[str, Any]) -> None:
    job = resources["OrdersGlueJob"]["Properties"]
    assert job["GlueVersion"] == "4.0"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["ScriptLocation"] == f"s3://{SCRIPTS}/glue-scripts/orders_job.py"
    assert job["Role"] == "arn:aws:iam::123456789012:role/ecom-glue-orders-job"
    assert job["DefaultArguments"]["--TempDir"] == f"s3://{SCRIPTS}/glue-temp/"
    # The package zip where every run uploads it (GlueLauncher), for runs started without that argument too.
    assert job["DefaultArguments"]["--extra-py-files"] == package_location(job["Command"]["ScriptLocation"])


def test_outputs_give_what_the_setup_needs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "RawBucketName",
        "CuratedBucketName",
        "ScriptsBucketName",
        "GlueJobName",
        "GlueJobRoleArn",
        "SnowflakeRoleArn",
        "CuratedStageUrl",
        "WorkerPolicyArn",
        "WorkerRoleArn",
        "WorkerInstanceProfileName",
        "PipelineSecretName",
        "SummaryPrefix",
    }


def test_aws_doc_uses_real_outputs_and_parameters(template: dict[str, Any]) -> None:
    text = AWS_DOC.read_text(encoding="utf-8")
    outputs = set(re.findall(r"stack_output (\w+)", text))
    assert outputs and outputs <= set(template["Outputs"])
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    deploy_blocks = [block for block in blocks if "aws cloudformation deploy" in block]
    # Template parameters are CamelCase (ProjectName=...); shell variables (STACK=...) are not.
    overrides = set(re.findall(r"\b([A-Z][a-z]+(?:[A-Z][a-z]+)+)=", "".join(deploy_blocks)))
    assert overrides <= set(template["Parameters"])
    assert {"ProjectName", "SnowflakeIamUserArn", "SnowflakeExternalId", "SecretName"} <= overrides
    for step in (
        "aws cloudformation deploy",
        "--capabilities CAPABILITY_NAMED_IAM",
        "ecom-pipeline bootstrap-warehouse",
        "DESC INTEGRATION",
        "ecom-pipeline blocks",
        "prefect deploy --name aws",
        "aws secretsmanager create-secret",
        "WorkerInstanceProfileName",
    ):
        assert step in text
