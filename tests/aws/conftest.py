"""Fixtures of the IAM-enforced tests: an emulator of their own that enforces IAM, and the stack deployed in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_stack import Stack, deploy_stack
from cfn_resolve import load_template
from iam_emulator import IamEmulator


@pytest.fixture(autouse=True)
def _own_boto3_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts and ends without boto3's default session: it keeps the credentials it first resolved, so a
    client one test made through it (`boto3.client(...)`) would hand that test's keys to the next test's flow."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def template() -> dict[str, Any]:
    """infra/ecom-pipeline.yaml, parsed afresh: a test may take a permission out of it before deploying."""
    return load_template()


@pytest.fixture
def iam_emulator() -> Iterator[IamEmulator]:
    """A fresh emulator process (authorisation still off: `deployed` turns it on)."""
    with IamEmulator() as emulator:
        yield emulator


@pytest.fixture
def deploy(iam_emulator: IamEmulator, template: dict[str, Any]) -> Any:
    """Deploy `template` (after the test's changes, with the given parameters) into the emulator, then enforce IAM;
    returns the stack."""

    def deployed(secrets: dict[str, str] | None = None, parameters: dict[str, str] | None = None) -> Stack:
        stack = deploy_stack(iam_emulator.endpoint_url, template, secrets or {}, parameters)
        iam_emulator.enforce()
        return stack

    return deployed
