"""The CloudFormation template's buckets and IAM policies, resolved to concrete ARNs and checked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_paths import AWS_DOC

# Bucket resources and the names their ARNs resolve to in these tests.
BUCKETS = {"RawBucket": "raw", "CuratedBucket": "curated", "ScriptsBucket": "scripts"}
S3_READ_ONLY = {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"}

EXPECTED_GLUE_S3 = {
    "arn:aws:s3:::raw",
    "arn:aws:s3:::raw/dummyjson/*",
    "arn:aws:s3:::curated",
    "arn:aws:s3:::curated/orders/*",
    "arn:aws:s3:::curated/quarantine/*",
    "arn:aws:s3:::curated/job-summaries/*",
    "arn:aws:s3:::scripts",
    "arn:aws:s3:::scripts/glue-scripts/*",
    "arn:aws:s3:::scripts/glue-temp/*",
}
EXPECTED_SNOWFLAKE_S3 = {"arn:aws:s3:::curated", "arn:aws:s3:::curated/orders/*"}
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
OBJECT_ARN = re.compile(r"^arn:aws:s3:::[a-z]+/[a-z0-9_-]+/\*$")


class Resolver:
    """Turns the template's intrinsic functions into strings, using parameter defaults."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
        self.values.update(PSEUDO_PARAMETERS)
        for resource, bucket in BUCKETS.items():
            self.values[resource] = bucket
            self.values[f"{resource}.Arn"] = f"arn:aws:s3:::{bucket}"

    def __call__(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return self.values[value["Ref"]]
        if "Fn::GetAtt" in value:
            return self.values[".".join(value["Fn::GetAtt"])]
        if "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda match: self.values[match.group(1)], value["Fn::Sub"])
        raise AssertionError(f"unexpected intrinsic function in a policy: {value}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies."""
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def s3_grants(template: dict[str, Any], role: str) -> list[tuple[set[str], set[str], dict[str, Any]]]:
    """(S3 actions, resolved resources, condition) for each statement of `role` that grants S3 actions."""
    resolve = Resolver(template)
    grants = []
    for statement in role_statements(template, role):
        assert statement["Effect"] == "Allow"
        actions = set(as_list(statement["Action"]))
        if any(action.startswith("s3:") for action in actions):
            resources = {resolve(resource) for resource in as_list(statement["Resource"])}
            grants.append((actions, resources, statement.get("Condition", {})))
    return grants


@pytest.mark.parametrize(
    ("role", "expected"),
    [("GlueJobRole", EXPECTED_GLUE_S3), ("SnowflakeAccessRole", EXPECTED_SNOWFLAKE_S3)],
)
def test_s3_grants_name_only_the_expected_buckets_and_prefixes(
    template: dict[str, Any], role: str, expected: set[str]
) -> None:
    grants = s3_grants(template, role)
    granted = set()
    for actions, resources, _condition in grants:
        assert "*" not in resources and not any(resource.endswith(":::*") for resource in resources)
        assert not any("*" in action for action in actions), f"{role}: wildcard action in {actions}"
        granted |= resources
    assert granted == expected


@pytest.mark.parametrize("role", ["GlueJobRole", "SnowflakeAccessRole"])
def test_bucket_listing_is_limited_to_prefixes(template: dict[str, Any], role: str) -> None:
    for actions, resources, condition in s3_grants(template, role):
        if "s3:ListBucket" in actions:
            assert actions == {"s3:ListBucket"}
            assert all(resource.count("/") == 0 for resource in resources)  # bucket ARNs only
            prefixes = condition["StringLike"]["s3:prefix"]
            assert prefixes and all(not str(prefix).startswith("*") for prefix in prefixes)


def test_object_actions_never_target_a_whole_bucket(template: dict[str, Any]) -> None:
    for role in ("GlueJobRole", "SnowflakeAccessRole"):
        for actions, resources, _condition in s3_grants(template, role):
            if actions & {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}:
                assert all(OBJECT_ARN.match(resource) for resource in resources), resources


def test_snowflake_role_is_read_only_on_the_curated_prefix(template: dict[str, Any]) -> None:
    grants = s3_grants(template, "SnowflakeAccessRole")
    actions = set().union(*(actions for actions, _resources, _condition in grants))
    assert actions <= S3_READ_ONLY
    non_s3 = [
        statement
        for statement in role_statements(template, "SnowflakeAccessRole")
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


def test_non_s3_grants_of_the_glue_role_are_logs_and_metrics(template: dict[str, Any]) -> None:
    resolve = Resolver(template)
    for statement in role_statements(template, "GlueJobRole"):
        actions = set(as_list(statement["Action"]))
        if actions & {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}:
            resources = [resolve(resource) for resource in as_list(statement["Resource"])]
            assert resources == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/*"]
        elif not all(action.startswith("s3:") for action in actions):
            # PutMetricData has no resource-level permissions, so it must be scoped by namespace.
            assert actions == {"cloudwatch:PutMetricData"}
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}


def test_buckets_are_encrypted_private_and_kept(template: dict[str, Any]) -> None:
    for name in BUCKETS:
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


def test_glue_job_runs_glue_4_from_the_scripts_location(template: dict[str, Any]) -> None:
    job = template["Resources"]["OrdersGlueJob"]["Properties"]
    assert job["GlueVersion"] == "4.0"
    assert job["Command"]["Name"] == "glueetl"
    assert Resolver(template)(job["Command"]["ScriptLocation"]) == "s3://scripts/glue-scripts/orders_job.py"
    assert job["Role"] == {"Fn::GetAtt": ["GlueJobRole", "Arn"]}


def test_outputs_give_what_the_setup_needs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "RawBucketName",
        "CuratedBucketName",
        "ScriptsBucketName",
        "GlueJobName",
        "GlueJobRoleArn",
        "SnowflakeRoleArn",
        "CuratedStageUrl",
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
    assert {"ProjectName", "SnowflakeIamUserArn", "SnowflakeExternalId"} <= overrides
    for step in (
        "aws cloudformation deploy",
        "--capabilities CAPABILITY_NAMED_IAM",
        "ecom-pipeline bootstrap-warehouse",
        "DESC INTEGRATION",
        "ecom-pipeline blocks",
        "prefect deploy --all",
    ):
        assert step in text
