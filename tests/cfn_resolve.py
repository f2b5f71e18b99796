"""infra/ecom-pipeline.yaml as CloudFormation would deploy it: parameters, conditions and intrinsic functions resolved.

The template is parsed with cfn-lint's decoder (it reads `!Sub`, `!GetAtt`, ...); `resolve_template` returns the
resources with every `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::If` and `AWS::NoValue` replaced by what CloudFormation
would put there, for given parameter values. Physical names and ARNs follow each type's documented `Ref` and
`GetAtt Arn` (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-ref.html).
Only what this template uses is supported; anything else fails loudly.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "infra" / "ecom-pipeline.yaml"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
# The property that names a resource (its `Ref` value) for the types in the template.
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Glue::Job": "Name",
}
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as parsed by cfn-lint (intrinsic functions still as `{"Fn::Sub": ...}` nodes)."""
    return cfn_yaml.load(str(path))


class Resolver:
    """Resolves intrinsic functions against parameter values (the template's defaults, overridden by `parameters`)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        self.template = template
        self.parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = (parameters or {}).get(name, spec.get("Default"))
            assert value is not None, f"parameter {name} has no default: pass a value"
            self.parameters[name] = int(value) if spec["Type"] == "Number" else str(value)
        unknown = set(parameters or {}) - set(self.parameters)
        assert not unknown, f"not parameters of the template: {sorted(unknown)}"
        self.conditions = {name: self._condition(spec) for name, spec in template.get("Conditions", {}).items()}

    def __call__(self, value: Any) -> Any:
        """`value` with every intrinsic function resolved; `AWS::NoValue` entries removed."""
        resolved = self._resolve(value)
        assert resolved is not _NO_VALUE
        return resolved

    def ref(self, name: str) -> Any:
        """What `!Ref name` gives: a parameter's value, a pseudo parameter, or a resource's physical name / ARN."""
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        resource = self.template["Resources"][name]
        physical = self(resource["Properties"][NAME_PROPERTY[resource["Type"]]])
        if resource["Type"] == "AWS::IAM::ManagedPolicy":  # Ref of a managed policy is its ARN
            return f"arn:aws:iam::{ACCOUNT_ID}:policy/{physical}"
        return physical

    def get_att(self, name: str, attribute: str) -> str:
        """What `!GetAtt name.attribute` gives (the ARNs this template reads)."""
        kind = self.template["Resources"][name]["Type"]
        arns = {"AWS::S3::Bucket": "arn:aws:s3:::{}", "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{{}}"}
        assert attribute == "Arn" and kind in arns, f"GetAtt {name}.{attribute} is not emulated"
        return arns[kind].format(self.ref(name))

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self._resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                condition, when_true, when_false = argument
                return self._resolve(when_true if self.conditions[condition] else when_false)
            assert not key.startswith("Fn::"), f"{key} is not emulated"
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self._resolve(variables[name]))
            if "." in name and name not in self.parameters:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _condition(self, spec: Any) -> bool:
        (function, argument), *_ = spec.items()
        if function == "Fn::Not":
            return not self._condition(argument[0])
        if function == "Fn::Equals":
            left, right = (self._resolve(item) for item in argument)
            return str(left) == str(right)
        if function == "Condition":
            return self._condition(self.template["Conditions"][argument])
        raise AssertionError(f"condition function {function} is not emulated")


def resolve_template(template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Resources and outputs with every intrinsic function resolved (a deep copy; `template` is unchanged)."""
    resolve = Resolver(template, parameters)
    resources = {}
    for name, resource in template["Resources"].items():
        resources[name] = {**resource, "Properties": resolve(copy.deepcopy(resource.get("Properties", {})))}
    outputs = {name: resolve(output["Value"]) for name, output in template.get("Outputs", {}).items()}
    return {"Resources": resources, "Outputs": outputs, "Parameters": resolve.parameters}
