"""The synthetic source: deterministic, consistent across pages, coherent, exact money, any size."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from ecom_local.api import SyntheticSource, UnknownResourceError
from ecom_local.api.synthetic import line_money

SENSITIVE_FIELDS = {"password", "ssn", "ein", "ip", "macAddress", "userAgent", "bank", "crypto"}


def money(value: float) -> Decimal:
    """A JSON amount as the exact decimal it denotes; fails the test when it has more than 2 decimals."""
    exact = Decimal(repr(value))
    assert exact == exact.quantize(Decimal("0.01")), f"{value} has more than 2 decimals"
    return exact


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return SyntheticSource(users=60, products=80, carts=400, seed=42)


@pytest.fixture(scope="module")
def carts(source: SyntheticSource) -> list[dict]:
    return source.items("carts", 0, source.total("carts"))


def test_same_seed_same_pages_different_seed_differs() -> None:
    for resource in ("users", "products", "carts"):
        page = SyntheticSource(seed=1).items(resource, 37, 8)
        assert page == SyntheticSource(seed=1).items(resource, 37, 8)
        assert page != SyntheticSource(seed=2).items(resource, 37, 8)


def test_pages_agree_with_each_other(source: SyntheticSource) -> None:
    for resource in ("users", "products", "carts"):
        assert source.items(resource, 10, 5) == source.items(resource, 0, 15)[10:]
        # Asking for a cart after its neighbours, or alone, gives the same record (nothing depends on order).
        assert source.items(resource, 12, 1) == SyntheticSource(users=60, products=80, carts=400).items(resource, 12, 1)


def test_totals_ids_and_the_end_of_the_range(source: SyntheticSource) -> None:
    assert [source.total(name) for name in ("users", "products", "carts")] == [60, 80, 400]
    assert [cart["id"] for cart in source.items("carts", 395, 50)] == [396, 397, 398, 399, 400]
    assert source.items("carts", 400, 10) == []
    with pytest.raises(UnknownResourceError, match="orders"):
        source.items("orders", 0, 1)


def test_carts_reference_real_users_and_products(source: SyntheticSource, carts: list[dict]) -> None:
    products = {product["id"]: product for product in source.items("products", 0, 80)}
    for cart in carts:
        assert 1 <= cart["userId"] <= 60
        assert 1 <= len(cart["products"]) <= 6
        assert len({line["id"] for line in cart["products"]}) == len(cart["products"])
        for line in cart["products"]:
            product = products[line["id"]]
            assert (line["title"], line["price"], line["thumbnail"]) == (
                product["title"],
                product["price"],
                product["thumbnail"],
            )
            assert 1 <= line["quantity"] <= 5


def test_cart_money_is_exact_to_the_cent(carts: list[dict]) -> None:
    for cart in carts:
        line_totals, line_discounted = Decimal(0), Decimal(0)
        for line in cart["products"]:
            total = money(line["total"])
            discounted = money(line["discountedTotal"])
            assert total == money(line["price"]) * line["quantity"]
            factor = 1 - Decimal(repr(line["discountPercentage"])) / 100
            assert discounted == (total * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            line_totals += total
            line_discounted += discounted
        assert money(cart["total"]) == line_totals
        assert money(cart["discountedTotal"]) == line_discounted
        assert cart["totalProducts"] == len(cart["products"])
        assert cart["totalQuantity"] == sum(line["quantity"] for line in cart["products"])


def test_line_money_rounds_half_up() -> None:
    # 1.00 less 1.5 % is 0.985: half-up gives 0.99 where banker's rounding would give 0.98.
    assert line_money(Decimal("1.00"), 1, Decimal("1.5")) == (Decimal("1.00"), Decimal("0.99"))
    assert line_money(Decimal("19.99"), 5, Decimal("6.83")) == (Decimal("99.95"), Decimal("93.12"))


def test_line_money_reproduces_every_real_cart_line(dummyjson_dir: Path) -> None:
    real_carts = json.loads((dummyjson_dir / "carts.json").read_text())["carts"]
    lines = [line for cart in real_carts for line in cart["products"]]
    for line in lines:
        price, discount = Decimal(repr(line["price"])), Decimal(repr(line["discountPercentage"]))
        total, discounted = line_money(price, line["quantity"], discount)
        assert discounted == Decimal(repr(line["discountedTotal"])), line
        # The real `total` is a JavaScript float product (e.g. 99.94999999999999); it rounds to ours.
        assert total == Decimal(repr(line["total"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), line
    assert len(lines) == 800


def test_cart_shape_matches_the_real_api(carts: list[dict]) -> None:
    real_cart_keys = {
        "id",
        "userId",
        "products",
        "total",
        "discountedTotal",
        "totalProducts",
        "totalQuantity",
    }
    line_keys = {
        "id",
        "title",
        "price",
        "quantity",
        "total",
        "discountPercentage",
        "discountedTotal",
        "thumbnail",
    }
    for cart in carts:
        assert set(cart) == real_cart_keys | {"date", "status"}
        assert all(set(line) == line_keys for line in cart["products"])
    assert {len(cart["products"]) for cart in carts} == {1, 2, 3, 4, 5, 6}


def test_dates_fall_in_the_window_and_statuses_are_mostly_completed(carts: list[dict]) -> None:
    first, last = date(2026, 6, 1), date(2026, 6, 1) + timedelta(days=29)
    assert all(first <= date.fromisoformat(cart["date"]) <= last for cart in carts)
    statuses = Counter(cart["status"] for cart in carts)
    assert set(statuses) == {"completed", "pending", "shipped", "cancelled", "returned"}
    assert statuses["completed"] > len(carts) / 2


def test_custom_window_and_undated_carts() -> None:
    dated = SyntheticSource(carts=50, start_date=date(2025, 12, 30), days=3).items("carts", 0, 50)
    assert {cart["date"] for cart in dated} <= {"2025-12-30", "2025-12-31", "2026-01-01"}
    undated = SyntheticSource(carts=20, with_dates=False).items("carts", 0, 20)
    assert all("date" not in cart and "status" not in cart for cart in undated)


def test_products_look_like_a_catalogue() -> None:
    products = SyntheticSource(products=194).items("products", 0, 194)
    assert len({product["category"] for product in products}) >= 20
    prices = [money(product["price"]) for product in products]
    assert all(Decimal("0.01") <= price <= Decimal("4999.99") for price in prices)
    without_brand = sum("brand" not in product for product in products)
    assert 0 < without_brand < len(products)
    assert all(product["thumbnail"].startswith("https://") for product in products)


def test_users_carry_places_and_the_sensitive_fields() -> None:
    users = SyntheticSource(users=300).items("users", 0, 300)
    assert all(set(user) >= SENSITIVE_FIELDS for user in users)
    assert all(set(user["bank"]) == {"cardNumber", "cardExpire", "cardType", "currency", "iban"} for user in users)
    assert all(set(user["crypto"]) == {"coin", "wallet", "network"} for user in users)
    countries = Counter(user["address"]["country"] for user in users)
    assert len(countries) >= 12
    assert len({user["address"]["city"] for user in users}) >= 30
    assert len({user["email"] for user in users}) == len({user["username"] for user in users}) == 300
    assert all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", user["email"]) for user in users)
    address_keys = {"address", "city", "state", "stateCode", "postalCode", "coordinates", "country"}
    assert all(set(user["address"]) == address_keys for user in users)


def test_cart_lines_counts_every_line(source: SyntheticSource, carts: list[dict]) -> None:
    assert source.cart_lines() == sum(len(cart["products"]) for cart in carts)


@pytest.mark.parametrize("target", [1, 100, 5_000, 20_001])
def test_for_cart_lines_lands_close_to_the_target(target: int) -> None:
    source = SyntheticSource.for_cart_lines(target, seed=9, users=50)
    assert target <= source.cart_lines() <= target + 5
    assert source.total("users") == 50
    fresh = SyntheticSource(users=50, carts=source.total("carts"), seed=9)
    assert fresh.cart_lines() == source.cart_lines()


def test_a_million_lines_serve_a_deep_page_with_little_memory() -> None:
    source = SyntheticSource.for_cart_lines(1_000_000)
    carts = source.total("carts")
    assert 250_000 <= carts <= 320_000
    tracemalloc.start()
    try:
        page = source.items("carts", carts - 100, 100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [cart["id"] for cart in page] == list(range(carts - 99, carts + 1))
    assert peak < 4 * 1024 * 1024  # a page's worth, nowhere near 250k carts


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        SyntheticSource(users=0)
    with pytest.raises(ValueError):
        SyntheticSource(days=0)
    with pytest.raises(TypeError):
        SyntheticSource.for_cart_lines(100, carts=3)
