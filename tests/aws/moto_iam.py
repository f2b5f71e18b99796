"""moto's IAM evaluation brought close to AWS's, for an emulator that proves least privilege.

moto authenticates and authorises every request once `INITIAL_NO_AUTH_ACTION_COUNT` requests were served
(moto/core/authorization.py), but its evaluator (moto/iam/access_control.py) calls itself basic. A proof of least
privilege needs an evaluator that neither lets a missing grant through nor denies a correct one, so this module
patches moto, in the emulator's own process only, where it differs from IAM's documented evaluation
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

| moto | here, as AWS |
|---|---|
| a pattern is a regex with `*` -> `.*` (`$`, `?`, `.` are regex syntax) | `*` and `?` are wildcards, all else literal |
| only StringEquals is checked, a missing key passes | String/Arn Equals/Like, Bool, ...IfExists; a missing key fails |
| an Allow whose condition fails denies | it does not apply |
| Glue and Secrets Manager are checked against `*` | against the job's / the secret's ARN |
| no `s3:prefix` on listings | the listing's prefix |
| GetObject/HeadObject of a missing key: 404 | 403 unless the caller may list that key (API_GetObject, Permissions) |
| DeleteObjects checks the bucket ARN | each key's ARN |
| HeadBucket checks `s3:HeadBucket` | `s3:ListBucket` |
| no service principals in trust policies | an IAM user named after the service (`glue.amazonaws.com`) stands in |
| S3's AccessDenied says only "Access Denied" | "User: ... is not authorized to perform: ACTION on resource: ..." |

Bucket policies (resource-based) are not evaluated. Every denial is logged as one line starting `AccessDenied:`,
every failed authentication as one starting `AuthFailure:`. The server itself is `iam_emulator`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, urlparse

DENIAL = "AccessDenied:"
AUTH_FAILURE = "AuthFailure:"
LOG = logging.getLogger("moto_iam")
# Condition keys a request carries besides the ones read from it (the prefix of a "may I list this key?" check).
_extra_context: ContextVar[dict[str, str]] = ContextVar("iam_extra_context", default={})  # noqa: B039


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's match: `*` any run of characters, `?` exactly one, everything else literal."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    """One condition of a statement against the request's context keys (keys compared case-insensitively)."""
    base = operator.removesuffix("IfExists")
    actual = context.get(key.lower())
    if actual is None:
        return base != operator  # a missing key fails the condition, unless ...IfExists
    values = [str(value) for value in (expected if isinstance(expected, list) else [expected])]
    if base in ("StringEquals", "ArnEquals"):
        return actual in values
    if base in ("StringLike", "ArnLike"):
        return any(wildcard_match(value, actual) for value in values)
    if base == "Bool":
        return actual.lower() in [value.lower() for value in values]
    LOG.warning("condition operator %s is not emulated: treated as not met", operator)
    return False


def principal_matches(principal: Any, caller_arn: str) -> bool:
    """A trust policy's Principal against the caller: an ARN, an account root, or a service's stand-in user."""
    if principal == "*":
        return True
    account = caller_arn.split(":")[4]
    for kind, values in principal.items():
        for value in values if isinstance(values, list) else [values]:
            if kind == "AWS" and (value == caller_arn or value in (account, f"arn:aws:iam::{account}:root")):
                return True
            if kind == "Service" and caller_arn.endswith(f":user/{value}"):
                return True
    return False


def apply_adapters() -> None:
    """Patch moto's evaluator and fill its gaps (see the module docstring); call before serving."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.glue.responses import GlueResponse
    from moto.iam import access_control
    from moto.iam.access_control import (
        IAMPolicy,
        IAMPolicyStatement,
        IAMRequest,
        IAMRequestBase,
        PermissionResult,
        S3IAMRequest,
    )
    from moto.iam.utils import format_incoming_conditional_values
    from moto.s3.exceptions import BucketAccessDeniedError, MissingKey
    from moto.s3.responses import S3Response
    from moto.secretsmanager.responses import SecretsManagerResponse

    def statement_result(
        self: Any, action: str, resource: str = "*", principal: str | None = None, context: Any = None
    ) -> PermissionResult:
        statement = self._statement
        element = "NotAction" if "NotAction" in statement else "Action"
        if self._check_element_matches(element, action) == (element == "NotAction"):
            return PermissionResult.NEUTRAL
        if (
            principal is not None
            and "Principal" in statement
            and not principal_matches(statement["Principal"], principal)
        ):
            return PermissionResult.NEUTRAL
        for operator, pairs in statement.get("Condition", {}).items():
            if not all(condition_holds(operator, key, value, context or {}) for key, value in pairs.items()):
                return PermissionResult.NEUTRAL
        if "Resource" in statement and not self._check_element_matches("Resource", resource):
            return PermissionResult.NEUTRAL
        if "NotResource" in statement and self._check_element_matches("NotResource", resource):
            return PermissionResult.NEUTRAL
        return PermissionResult.PERMITTED if statement["Effect"] == "Allow" else PermissionResult.DENIED

    def element_matches(self: Any, element: str, value: str) -> bool:
        patterns = self._statement[element]
        ignore_case = element in ("Action", "NotAction")  # action names are case-insensitive, ARNs are not
        return any(
            wildcard_match(p, value, ignore_case) for p in (patterns if isinstance(patterns, list) else [patterns])
        )

    def request_context(request: Any) -> dict[str, str]:
        context = {key.lower(): value for key, value in format_incoming_conditional_values(request._data).items()}
        query = parse_qs(urlparse(request._path).query)
        if "prefix" in query and request._action == "s3:ListBucket":
            context["s3:prefix"] = query["prefix"][0]
        # No aws:SourceAccount for a service's stand-in: a service sets it only where its docs say so, and the
        # services here (EC2 for an instance profile, Glue for a job's role) document no such key.
        return {**context, **_extra_context.get()}

    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action == "sts:GetCallerIdentity":
            return
        context = request_context(self)
        permitted = False
        for policy in self._access_key.collect_policies():
            result = IAMPolicy(policy).is_action_permitted(self._action, resource, None, context)
            if result == PermissionResult.DENIED:
                self._deny(resource, "with an explicit deny in an identity-based policy")
            permitted = permitted or result == PermissionResult.PERMITTED
        if not permitted:
            self._deny(resource, f"because no identity-based policy allows the {self._action} action")
        if self._is_assuming_role_operation(resource):
            trust = IAMPolicy(self.backend.get_role_by_arn(resource).assume_role_policy_document)
            if (
                trust.is_action_permitted(self._action, resource, self._access_key.arn, context)
                != PermissionResult.PERMITTED
            ):
                self._deny(resource, "because the role's trust policy does not allow it")

    def deny(self: Any, resource: str, reason: str) -> None:
        who, action = self._access_key.arn, self._action
        message = f'User: {who} is not authorized to perform: {action} on resource: "{resource}" {reason}'
        LOG.warning("%s %s", DENIAL, message)
        if isinstance(self, S3IAMRequest):
            error = BucketAccessDeniedError(bucket=self._data.get("BucketName", ""))
            error.message = message
            raise error
        if "X-Amz-Target" in self._headers:  # a JSON protocol (Glue, Secrets Manager): a JSON error, as AWS sends
            json_error = JsonRESTError("AccessDeniedException", message)
            json_error.code = 403
            raise json_error
        raise AccessDeniedError(user_arn=self._access_key.arn, action=message.split("perform: ", 1)[1])

    def calculate_signature(self: Any) -> str:
        """SigV4 over exactly the headers the client signed (botocore's signer skips `user-agent`; Java's signs it)."""
        auth = self._create_auth(self._access_key.create_credentials())
        auth.headers_to_sign = _signed_headers
        request = self._create_aws_request()
        return str(auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request))

    original_s3_check = S3Response._authenticate_and_authorize_s3_action

    def s3_check(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        if self.data.get("Action") == "HeadBucket":
            self.data["Action"] = "ListBucket"
        if key_name is None and self.data.get("Action") == "DeleteObject" and self.is_delete_keys():
            import xmltodict

            objects = xmltodict.parse(self.body).get("Delete", {}).get("Object", [])
            for entry in objects if isinstance(objects, list) else [objects]:
                original_s3_check(self, bucket_name=bucket_name, key_name=entry["Key"])
            return
        original_s3_check(self, bucket_name=bucket_name, key_name=key_name)

    def may_list(self: Any, key_name: str) -> None:
        """AWS answers 404 for a missing key only to a caller who may list it (s3:ListBucket, s3:prefix = key)."""
        self.data["Action"] = "ListBucket"
        token = _extra_context.set({"s3:prefix": key_name})
        try:
            original_s3_check(self, bucket_name=self.bucket_name)
        finally:
            _extra_context.reset(token)

    original_get, original_head = S3Response._key_response_get, S3Response.head_object

    def key_response_get(self: Any, query: dict[str, Any], key_name: str) -> Any:
        try:
            return original_get(self, query, key_name)
        except MissingKey:
            may_list(self, key_name)
            raise

    def head_object(self: Any, bucket_name: str, query: dict[str, Any], key_name: str, headers: Any) -> Any:
        response = original_head(self, bucket_name, query, key_name, headers)
        if response[0] == 404:
            may_list(self, key_name)
        return response

    def glue_resource(self: Any) -> str:
        parameters = json.loads(self.body or "{}")
        name = parameters.get("JobName") or (parameters.get("Name") if "Command" in parameters else None)
        return f"arn:aws:glue:{self.region}:{self.current_account}:job/{name}" if name else "*"

    def secret_resource(self: Any) -> str:
        secret_id = json.loads(self.body or "{}").get("SecretId")
        if not secret_id:
            return "*"
        if secret_id in self.backend.secrets:
            return str(self.backend.secrets[secret_id].arn)
        if secret_id.startswith("arn:"):
            return str(secret_id)
        return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"

    for request_class in (IAMRequest, S3IAMRequest):  # say why a request failed authentication, too
        for name in ("_raise_signature_does_not_match", "_raise_invalid_access_key"):
            setattr(request_class, name, _logged(getattr(request_class, name), name))
    IAMPolicyStatement.is_action_permitted = statement_result
    IAMPolicyStatement._check_element_matches = element_matches
    IAMRequestBase.check_action_permitted = check_action_permitted
    IAMRequestBase._deny = deny
    IAMRequestBase._calculate_signature = calculate_signature
    S3Response._authenticate_and_authorize_s3_action = s3_check
    S3Response._key_response_get = key_response_get
    S3Response.head_object = head_object
    GlueResponse._determine_resource = glue_resource
    SecretsManagerResponse._determine_resource = secret_resource
    access_control.log.setLevel(logging.WARNING)


def _signed_headers(request: Any) -> Any:
    """Every header of `request` (moto keeps only the signed ones), lower-cased, as botocore's signer wants them."""
    from botocore.compat import HTTPHeaders

    headers = HTTPHeaders()
    for name, value in request.headers.items():
        headers[name.lower()] = value
    return headers


def _logged(method: Any, name: str) -> Any:
    """`method` (an authentication failure), logged with the request it refuses first."""

    def log_and_raise(self: Any, *args: Any) -> None:
        reason = name.removeprefix("_raise_").replace("_", " ")
        LOG.warning("%s %s %s %s (%s)", AUTH_FAILURE, self._method, self._path, self._action, reason)
        method(self, *args)

    return log_and_raise
