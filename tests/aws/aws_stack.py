"""The CloudFormation stack, deployed into the IAM-enforcing emulator from infra/ecom-pipeline.yaml itself.

`deploy_stack` creates what the template defines (resolved by `cfn_resolve`): buckets, roles with their inline
policies, the worker's managed policy and instance profile, the Glue job. Bucket policies are left out: the
emulator evaluates no resource-based policies, and their one statement refuses plain HTTP, which is all the
emulator speaks. Then the principals that stand outside the stack: the AWS services that assume its roles (an IAM
user named after each service, see `moto_iam`) and the IAM user of Snowflake's integration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from cfn_resolve import ACCOUNT_ID, REGION, resolve_template

SNOWFLAKE_USER = "snowflake-integration"
SNOWFLAKE_EXTERNAL_ID = "ECOM_SFCRole=2_abcdefg"
SERVICES = ("ec2.amazonaws.com", "glue.amazonaws.com")
# What a service principal may do on its own account: assume the roles that trust it (the trust policy decides
# which), and, for Glue, read the definitions of the jobs it runs.
SERVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "glue:GetJob"], "Resource": "*"}],
}


def client(service: str, endpoint_url: str, keys: Mapping[str, str] | None = None) -> Any:
    """A boto3 client of the emulator, with `keys` (else any keys: only valid before enforcement)."""
    keys = keys or {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION, **keys)


def keys_of(credentials: Mapping[str, str]) -> dict[str, str]:
    """boto3 arguments from an AccessKey or AssumeRole `Credentials` answer."""
    keys = {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"]}
    if "SessionToken" in credentials:
        keys["aws_session_token"] = credentials["SessionToken"]
    return keys


def as_env(keys: Mapping[str, str]) -> dict[str, str]:
    """The same keys as AWS_* environment variables."""
    return {name.upper(): value for name, value in keys.items()}


@dataclass
class Stack:
    """A deployed stack: its outputs and the keys of the principals around it."""

    endpoint_url: str
    outputs: dict[str, str]
    principals: dict[str, dict[str, str]] = field(default_factory=dict)

    def assume(self, role_output: str, principal: str, session: str, **extra: str) -> dict[str, str]:
        """Temporary keys of the role named by a stack output, assumed as `principal` (checked by its trust)."""
        sts = client("sts", self.endpoint_url, self.principals[principal])
        answer = sts.assume_role(RoleArn=self.outputs[role_output], RoleSessionName=session, **extra)
        return keys_of(answer["Credentials"])

    def worker_keys(self) -> dict[str, str]:
        """The worker's identity, as an EC2 host gets it from its instance profile."""
        return self.assume("WorkerRoleArn", "ec2.amazonaws.com", "prefect-worker")

    def snowflake_keys(self) -> dict[str, str]:
        """The storage integration's identity: Snowflake's IAM user assuming the role with its external ID."""
        return self.assume("SnowflakeRoleArn", SNOWFLAKE_USER, "snowflake", ExternalId=SNOWFLAKE_EXTERNAL_ID)


def stack_parameters() -> dict[str, str]:
    """The values of the stack's second deploy (docs/aws.md, step 4): Snowflake's user and external ID."""
    return {
        "SnowflakeIamUserArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{SNOWFLAKE_USER}",
        "SnowflakeExternalId": SNOWFLAKE_EXTERNAL_ID,
    }


def deploy_stack(
    endpoint_url: str,
    template: Mapping[str, Any],
    secrets: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
) -> Stack:
    """Create the principals, the template's resources (with `parameters` over the second deploy's values) and
    `secrets` (name -> value) in the emulator."""
    iam, s3, glue = (client(name, endpoint_url) for name in ("iam", "s3", "glue"))
    for name, value in secrets.items():  # created by an administrator, as docs/aws.md shows
        client("secretsmanager", endpoint_url).create_secret(Name=name, SecretString=value)
    stack = Stack(endpoint_url, outputs={})
    for user in (*SERVICES, SNOWFLAKE_USER):
        iam.create_user(UserName=user)
        document = SERVICE_POLICY if user in SERVICES else _assume_only()
        iam.put_user_policy(UserName=user, PolicyName="principal", PolicyDocument=json.dumps(document))
        stack.principals[user] = keys_of(iam.create_access_key(UserName=user)["AccessKey"])

    resolved = resolve_template(template, {**stack_parameters(), **(parameters or {})})
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resolved["Resources"].values():
        by_type.setdefault(resource["Type"], []).append(resource["Properties"])
    for bucket in by_type.get("AWS::S3::Bucket", []):
        s3.create_bucket(Bucket=bucket["BucketName"])
        if "VersioningConfiguration" in bucket:
            s3.put_bucket_versioning(
                Bucket=bucket["BucketName"], VersioningConfiguration=bucket["VersioningConfiguration"]
            )
    for policy in by_type.get("AWS::IAM::ManagedPolicy", []):
        iam.create_policy(PolicyName=policy["ManagedPolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
    for role in by_type.get("AWS::IAM::Role", []):
        name = role["RoleName"]
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]))
        for inline in role.get("Policies", []):
            document = json.dumps(inline["PolicyDocument"])
            iam.put_role_policy(RoleName=name, PolicyName=inline["PolicyName"], PolicyDocument=document)
        for policy_arn in role.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    for profile in by_type.get("AWS::IAM::InstanceProfile", []):
        iam.create_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
        for role_name in profile["Roles"]:
            iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=role_name)
    for job in by_type.get("AWS::Glue::Job", []):
        glue.create_job(**job)
    stack.outputs = {name: str(value) for name, value in resolved["Outputs"].items()}
    return stack


def _assume_only() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
