"""The allow-list keeps the fields the pipeline needs and nothing personal, whatever the source adds."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.extract.sanitize import ALLOWED_FIELDS, sanitize

SENSITIVE_KEYS = {
    "password",
    "ssn",
    "ein",
    "bank",
    "crypto",
    "ip",
    "macAddress",
    "userAgent",
    "cardNumber",
    "iban",
}


def load(dummyjson_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))[resource]


def all_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_keys(item)


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif value is not None:
        yield value


def test_no_sensitive_key_or_value_survives_in_real_users(dummyjson_dir: Path) -> None:
    users = load(dummyjson_dir, "users")
    secrets = {str(v) for user in users for key in SENSITIVE_KEYS for v in leaves(user.get(key))}
    assert len(secrets) > 1000  # passwords, SSNs, card numbers, IBANs, wallets, IPs, MACs, ...
    cleaned = [sanitize("users", user) for user in users]
    assert not SENSITIVE_KEYS & set(all_keys(cleaned))
    text = json.dumps(cleaned, ensure_ascii=False)
    assert [secret for secret in secrets if secret in text] == []


def test_allowed_user_fields_are_kept_unchanged(dummyjson_dir: Path) -> None:
    user = load(dummyjson_dir, "users")[0]
    cleaned = sanitize("users", user)
    for key in ("id", "firstName", "lastName", "email", "address", "hair", "role", "university"):
        assert cleaned[key] == user[key]
    assert cleaned["company"] == {k: user["company"][k] for k in ("department", "name", "title", "address")}
    assert list(cleaned) == [key for key in user if key in ALLOWED_FIELDS["users"]]  # source order kept


@pytest.mark.parametrize("resource", ["products", "carts"])
def test_real_products_and_carts_pass_unchanged(dummyjson_dir: Path, resource: str) -> None:
    records = load(dummyjson_dir, resource)
    assert [sanitize(resource, record) for record in records] == records


def test_unknown_and_nested_new_keys_are_dropped() -> None:
    user = {
        "id": 1,
        "email": "a@example.com",
        "loyaltyToken": "tok-123",  # a key the source adds tomorrow
        "company": {"name": "ACME", "ein": "12-345", "address": {"city": "Oslo", "gps": "secret-gps"}},
        "image": {"password": "hidden-in-a-leaf"},  # an object where a plain value belongs
        "address": {"city": "Paris", "coordinates": {"lat": 1.5, "lng": 2.5, "accuracy": "exact"}},
    }
    assert sanitize("users", user) == {
        "id": 1,
        "email": "a@example.com",
        "company": {"name": "ACME", "address": {"city": "Oslo"}},
        "address": {"city": "Paris", "coordinates": {"lat": 1.5, "lng": 2.5}},
    }


def test_cart_lines_are_allow_listed_and_input_is_not_mutated() -> None:
    cart = {
        "id": 1,
        "userId": 2,
        "couponSecret": "XYZ",
        "products": [{"id": 3, "price": 1.5, "quantity": 1, "supplierCost": 0.2}, 7],
    }
    before = copy.deepcopy(cart)
    cleaned = sanitize("carts", cart)
    # A scalar where a line belongs is kept so that validation (not sanitizing) reports the wrong shape.
    assert cleaned == {"id": 1, "userId": 2, "products": [{"id": 3, "price": 1.5, "quantity": 1}, 7]}
    assert cart == before


def test_unknown_resource_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid: users, products, carts"):
        sanitize("orders", {"id": 1})
