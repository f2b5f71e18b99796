"""Record rules: real data passes, each broken rule is named in a short quarantine reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.extract.models import Cart, Product, validate_record

GOOD_LINE = {"id": 3, "title": "Mascara", "price": 9.99, "quantity": 2, "discountPercentage": 10.48}
GOOD = {
    "users": {"id": 1, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
    "products": {
        "id": 1,
        "title": "Mascara",
        "price": 9.99,
        "discountPercentage": 10.48,
        "category": "beauty",
    },
    "carts": {"id": 1, "userId": 1, "products": [GOOD_LINE], "total": 19.98},
}


@pytest.mark.parametrize("resource", ["users", "products", "carts"])
def test_every_real_record_is_valid(dummyjson_dir: Path, resource: str) -> None:
    records = json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))[resource]
    assert [validate_record(resource, record) for record in records] == [None] * len(records)


@pytest.mark.parametrize(
    ("resource", "changes", "reason"),
    [
        ("users", {"id": 0}, "id: Input should be greater than 0"),
        ("users", {"id": "7"}, "id: Input should be a valid integer"),
        ("users", {"email": "  "}, "email: String should have at least 1 character"),
        ("users", {"email": None}, "email: Input should be a valid string"),
        ("products", {"price": 0}, "price: Input should be greater than 0"),
        ("products", {"price": "9.99"}, "price: Input should be a JSON number"),
        (
            "products",
            {"discountPercentage": 100.5},
            "discountPercentage: Input should be less than or equal to 100",
        ),
        (
            "products",
            {"discountPercentage": -1},
            "discountPercentage: Input should be greater than or equal to 0",
        ),
        ("carts", {"userId": -3}, "userId: Input should be greater than 0"),
        ("carts", {"products": "none"}, "products: Input should be a valid list"),
        (
            "carts",
            {"products": [{**GOOD_LINE, "quantity": 0}]},
            "products.0.quantity: Input should be greater than or equal to 1",
        ),
        (
            "carts",
            {"products": [GOOD_LINE, {**GOOD_LINE, "quantity": True}]},
            "products.1.quantity: Input should be a valid integer",
        ),
        (
            "carts",
            {"products": [{**GOOD_LINE, "price": -1}]},
            "products.0.price: Input should be greater than 0",
        ),
        (
            "carts",
            {"products": [7]},
            "products.0: Input should be a valid dictionary or instance of CartLine",
        ),
    ],
)
def test_each_rule_is_named_in_the_reason(resource: str, changes: dict[str, Any], reason: str) -> None:
    assert validate_record(resource, GOOD[resource]) is None
    assert validate_record(resource, {**GOOD[resource], **changes}) == reason


def test_missing_email_is_reported() -> None:
    user = {key: value for key, value in GOOD["users"].items() if key != "email"}
    assert validate_record("users", user) == "email: Field required"


def test_money_is_parsed_as_exact_decimal_and_extras_pass_through() -> None:
    product = Product.model_validate({**GOOD["products"], "sku": "BEA-1"})
    assert product.price == Decimal("9.99")
    assert product.discountPercentage == Decimal("10.48")
    assert product.model_extra == {"sku": "BEA-1"}
    cart = Cart.model_validate({**GOOD["carts"], "total": 11999.97})
    assert cart.total == Decimal("11999.97")
    assert cart.products[0].price == Decimal("9.99")


def test_unknown_resource_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid: users, products, carts"):
        validate_record("orders", {})
