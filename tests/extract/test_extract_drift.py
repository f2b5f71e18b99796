"""The field profile and the drift report: known paths vs what the source sent, never a value kept."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from land_support import profile_of

from ecom_pipeline.extract.drift import (
    DROPPED_FIELDS,
    MAX_PATHS,
    SOURCE_SCHEMA,
    FieldProfile,
    child_path,
    drift_counts,
    drift_report,
    expected_paths,
)
from ecom_pipeline.extract.sanitize import ALLOWED_FIELDS, LEAF, FieldSpec
from ecom_pipeline.settings import RESOURCES


def snapshot(dummyjson_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))[resource]


def allow_listed_paths(spec: dict[str, FieldSpec], parent: str = "$") -> set[str]:
    paths = set()
    for key, child in spec.items():
        path = child_path(parent, key)
        paths.add(path)
        if child is not LEAF:
            paths |= allow_listed_paths(dict(child), path)
    return paths


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_declared_schema_names_exactly_the_allow_listed_fields(resource: str) -> None:
    # The allow-list does not say whether a nested spec is an object or a list of objects; the schema does.
    declared = {path.replace("[*]", "") for path in expected_paths(resource)}
    assert declared == allow_listed_paths(ALLOWED_FIELDS[resource])
    assert not DROPPED_FIELDS[resource] & set(ALLOWED_FIELDS[resource])


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_fields_dropped_on_purpose_are_those_the_real_source_sends_beyond_the_allow_list(
    dummyjson_dir: Path, resource: str
) -> None:
    sent = {key for record in snapshot(dummyjson_dir, resource) for key in record}
    assert sent - set(ALLOWED_FIELDS[resource]) == DROPPED_FIELDS[resource]


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_real_snapshot_does_not_drift(dummyjson_dir: Path, resource: str) -> None:
    records = snapshot(dummyjson_dir, resource)
    report = drift_report(resource, [profile_of(resource, records)])
    assert report == {
        "status": "no drift",
        "records": len(records),
        "complete": True,
        "added": [],
        "missing": [],
        "type_changed": [],
    }
    assert drift_counts(report) == "no drift"


def test_added_missing_and_changed_fields_are_reported_with_json_paths_and_types(dummyjson_dir: Path) -> None:
    users = copy.deepcopy(snapshot(dummyjson_dir, "users"))
    for user in users:
        del user["university"]  # a landed field the source stopped sending
        user["loyaltyTier"] = "gold"  # a new top-level field
        user["address"]["geo hash"] = 12  # a new nested field whose name is no identifier
    users[3]["age"] = "forty"  # a changed type on one record is enough
    users[4]["hair"] = None  # null is no type change
    carts = copy.deepcopy(snapshot(dummyjson_dir, "carts"))
    for cart in carts:
        for line in cart["products"]:
            del line["thumbnail"]
    carts[0]["products"][1]["price"] = "9.99"

    users_report = drift_report("users", [profile_of("users", users)])
    assert users_report == {
        "status": "drift",
        "records": 208,
        "complete": True,
        "added": [
            {"path": '$.address["geo hash"]', "types": ["number"]},
            {"path": "$.loyaltyTier", "types": ["string"]},
        ],
        "missing": [{"path": "$.university", "expected": "string"}],
        "type_changed": [{"path": "$.age", "expected": "number", "seen": ["number", "string"]}],
    }
    assert drift_counts(users_report) == "2 added, 1 missing, 1 type changed"
    carts_report = drift_report("carts", [profile_of("carts", carts)])
    assert carts_report["missing"] == [{"path": "$.products[*].thumbnail", "expected": "string"}]
    assert carts_report["type_changed"] == [
        {"path": "$.products[*].price", "expected": "number", "seen": ["number", "string"]}
    ]
    assert carts_report["added"] == []


def test_the_profile_keeps_paths_and_types_never_values_nor_dropped_names(dummyjson_dir: Path) -> None:
    users = snapshot(dummyjson_dir, "users")
    text = json.dumps(profile_of("users", users))
    values = {user[key] for user in users for key in ("email", "firstName", "username", "phone", "password")}
    assert [value for value in values if value in text] == []
    assert [name for name in DROPPED_FIELDS["users"] if name in text] == []
    assert set(json.loads(text)["paths"]) == set(expected_paths("users"))
    assert json.loads(text)["paths"]["$.height"] == ["number"]  # integers and decimals are both JSON numbers


def test_optional_fields_and_empty_arrays_are_never_missing() -> None:
    products = [{**_product(n), "reviews": [], "tags": []} for n in range(1, 4)]  # no brand, empty arrays
    report = drift_report("products", [profile_of("products", products)])
    assert report["status"] == "no drift"


def test_an_object_that_turns_into_text_is_a_type_change_and_hides_its_fields() -> None:
    products = [{**_product(n), "dimensions": "10x20x5"} for n in range(1, 4)]
    report = drift_report("products", [profile_of("products", products)])
    assert report["type_changed"] == [{"path": "$.dimensions", "expected": "object", "seen": ["string"]}]
    assert report["missing"] == []  # its width, height, depth are not missing: the object never came


def test_chunk_profiles_merge_and_a_chunk_without_one_leaves_missing_unjudged(dummyjson_dir: Path) -> None:
    carts = snapshot(dummyjson_dir, "carts")
    halves = [profile_of("carts", carts[:100]), profile_of("carts", carts[100:])]
    assert drift_report("carts", halves) == drift_report("carts", [profile_of("carts", carts)])
    stripped = [{**cart, "status": None} for cart in carts]  # a record set without e.g. `userId` would do too
    for cart in stripped:
        del cart["userId"]
    report = drift_report("carts", [profile_of("carts", stripped), None])
    assert (report["complete"], report["missing"], report["records"]) == (False, [], 208)
    assert drift_report("carts", [profile_of("carts", stripped)])["missing"] == [
        {"path": "$.userId", "expected": "number"}
    ]


def test_memory_is_bounded_whatever_keys_the_source_invents() -> None:
    profile = FieldProfile("carts")
    profile.observe({"id": n, f"key-{n}": n} for n in range(3 * MAX_PATHS))
    kept = profile.as_json()
    assert len(kept["paths"]) == MAX_PATHS  # `$.id` and the first invented keys
    assert kept["truncated"] is True and kept["records"] == 3 * MAX_PATHS
    assert drift_report("carts", [kept])["complete"] is False


def test_items_that_are_not_objects_are_left_to_validation() -> None:
    profile = FieldProfile("carts")
    profile.observe(["not a cart", 7, None])
    assert profile.as_json() == {"records": 0, "paths": {}}
    assert drift_report("carts", [profile.as_json()])["status"] == "no drift"


def test_every_resource_has_a_schema() -> None:
    assert set(SOURCE_SCHEMA) == set(DROPPED_FIELDS) == set(RESOURCES)


def _product(product_id: int) -> dict[str, Any]:
    """A product carrying every required field, with its expected JSON type."""
    product: dict[str, Any] = {}
    for path, want in expected_paths("products").items():
        if want.optional or "[*]" in path:
            continue
        *parents, leaf = path.removeprefix("$.").split(".")
        target = product
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = {"number": product_id, "string": "x", "object": {}, "array": []}[want.type]
    return product
