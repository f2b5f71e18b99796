"""The IAM-enforcing emulator answers as IAM and S3 document it, where moto alone would not.

Each case is one adapter of `moto_iam`; the policy evaluation follows
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and the 404-or-403 rule
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html ("Permissions").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_stack import client, keys_of
from botocore.exceptions import ClientError
from iam_emulator import IamEmulator
from moto_iam import condition_holds, principal_matches, wildcard_match

BUCKET = "emulated-bucket"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"arn:aws:s3:::{BUCKET}/data/*", f"arn:aws:s3:::{BUCKET}/data_$folder$"]},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/unlisted/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringLike": {"s3:prefix": ["data/*", "data_$folder$"]}}},
        {"Effect": "Allow", "Action": "glue:GetJob", "Resource": "arn:aws:glue:us-east-1:123456789012:job/mine"},
    ],
}  # fmt: skip


def test_wildcards_are_only_star_and_question_mark() -> None:
    assert wildcard_match("arn:aws:s3:::b/orders_$folder$", "arn:aws:s3:::b/orders_$folder$")
    assert not wildcard_match("arn:aws:s3:::b/orders.*", "arn:aws:s3:::b/ordersX")
    assert wildcard_match("secret:ecom/pipeline-??????", "secret:ecom/pipeline-a1B2c3")
    assert not wildcard_match("secret:ecom/pipeline-??????", "secret:ecom/pipeline-admin-a1B2c3")
    assert wildcard_match("S3:getobject", "s3:GetObject", ignore_case=True)
    assert not wildcard_match("arn:aws:s3:::B/*", "arn:aws:s3:::b/key")


def test_conditions_fail_on_a_missing_key_unless_if_exists() -> None:
    assert condition_holds("StringLike", "s3:prefix", ["data/*"], {"s3:prefix": "data/x"})
    assert not condition_holds("StringLike", "s3:prefix", ["data/*"], {"s3:prefix": "other/x"})
    assert not condition_holds("StringLike", "s3:prefix", ["data/*"], {})
    assert condition_holds("StringLikeIfExists", "s3:prefix", ["data/*"], {})
    assert condition_holds("StringEquals", "sts:ExternalId", "abc", {"sts:externalid": "abc"})
    assert not condition_holds("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "5"})  # not emulated: no


def test_principals_match_arns_account_roots_and_service_stand_ins() -> None:
    caller = "arn:aws:iam::123456789012:user/glue.amazonaws.com"
    assert principal_matches({"Service": "glue.amazonaws.com"}, caller)
    assert not principal_matches({"Service": "ec2.amazonaws.com"}, caller)
    assert principal_matches({"AWS": "arn:aws:iam::123456789012:root"}, caller)
    assert not principal_matches({"AWS": ["arn:aws:iam::999999999999:root"]}, caller)


@pytest.fixture(scope="module")
def enforcing() -> Iterator[tuple[dict[str, str], IamEmulator]]:
    """The keys of a user who holds POLICY, on an enforcing emulator with a few objects in BUCKET."""
    with IamEmulator() as emulator:
        url = emulator.endpoint_url
        iam, s3 = client("iam", url), client("s3", url)
        s3.create_bucket(Bucket=BUCKET)
        for key in ("data/a", "unlisted/a", "other/a"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        iam.create_user(UserName="tester")
        iam.put_user_policy(UserName="tester", PolicyName="p", PolicyDocument=json.dumps(POLICY))
        keys = keys_of(iam.create_access_key(UserName="tester")["AccessKey"])
        emulator.enforce()
        yield keys, emulator


@pytest.fixture
def s3_as_user(enforcing: tuple[dict[str, str], IamEmulator]) -> tuple[Any, IamEmulator]:
    """That user's S3 client."""
    keys, emulator = enforcing
    return client("s3", emulator.endpoint_url, keys), emulator


def error_of(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return f"{error.value.response['Error']['Code']}: {error.value}"


def test_keys_with_dollar_signs_are_matched_literally(s3_as_user: tuple[Any, IamEmulator]) -> None:
    s3, _ = s3_as_user
    s3.put_object(Bucket=BUCKET, Key="data_$folder$", Body=b"")  # moto alone: `$` ends its regex, denied
    assert "not authorized to perform: s3:PutObject" in error_of(lambda: s3.put_object(Bucket=BUCKET, Key="dataX"))


def test_a_missing_key_is_404_only_for_who_may_list_it(s3_as_user: tuple[Any, IamEmulator]) -> None:
    s3, emulator = s3_as_user
    assert error_of(lambda: s3.get_object(Bucket=BUCKET, Key="data/missing")).startswith("NoSuchKey")
    refused = error_of(lambda: s3.get_object(Bucket=BUCKET, Key="unlisted/missing"))
    assert refused.startswith("AccessDenied") and "s3:ListBucket" in refused
    assert s3.get_object(Bucket=BUCKET, Key="unlisted/a")["Body"].read() == b"x"  # existing: GetObject suffices
    assert any('s3:ListBucket on resource: "arn:aws:s3:::emulated-bucket"' in line for line in emulator.denials())


def test_listing_is_held_to_the_prefix_condition(s3_as_user: tuple[Any, IamEmulator]) -> None:
    s3, _ = s3_as_user
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="data/")["Contents"]] == ["data/a"]
    assert "s3:ListBucket" in error_of(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="other/"))
    assert "s3:ListBucket" in error_of(lambda: s3.list_objects_v2(Bucket=BUCKET))


def test_delete_objects_is_checked_per_key(s3_as_user: tuple[Any, IamEmulator]) -> None:
    s3, _ = s3_as_user
    s3.put_object(Bucket=BUCKET, Key="data/b", Body=b"x")
    assert s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "data/b"}]}).get("Errors", []) == []
    refused = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "other/a"}]})["Errors"]
    assert [error["Code"] for error in refused] == ["AccessDenied"]


def test_glue_calls_are_checked_against_the_job_arn(enforcing: tuple[dict[str, str], IamEmulator]) -> None:
    keys, emulator = enforcing
    glue = client("glue", emulator.endpoint_url, keys)
    assert error_of(lambda: glue.get_job(JobName="mine")).startswith("EntityNotFoundException")  # allowed
    assert "not authorized to perform: glue:GetJob" in error_of(lambda: glue.get_job(JobName="theirs"))
