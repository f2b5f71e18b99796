"""An independent computation of the expected orders and KPIs from DummyJSON files, in plain Decimal.

It shares no code with the pipeline, so a test comparing the two can catch a wrong formula anywhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

CENT = Decimal("0.01")


def _load(data_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((data_dir / f"{resource}.json").read_text(), parse_float=Decimal)[resource]


def expected_orders(data_dir: Path, cost_ratio: Decimal = Decimal("0.6")) -> dict[str, dict[str, Any]]:
    """Order id -> expected curated row (money as Decimal, exact to the cent)."""
    users = {user["id"]: user for user in _load(data_dir, "users")}
    products = {product["id"]: product for product in _load(data_dir, "products")}
    orders: dict[str, dict[str, Any]] = {}
    for cart in _load(data_dir, "carts"):
        user = users[cart["userId"]]
        seen: dict[int, int] = defaultdict(int)
        for line in cart["products"]:
            seen[line["id"]] += 1
            suffix = f"-{seen[line['id']]}" if seen[line["id"]] > 1 else ""
            price = Decimal(line["price"])
            quantity = int(line["quantity"])
            cost = (price * cost_ratio).quantize(CENT, rounding=ROUND_HALF_UP)
            orders[f"ORD-{cart['id']}-{line['id']}{suffix}"] = {
                "category": products[line["id"]]["category"],
                "country": user["address"]["country"],
                "customer_id": user["id"],
                "quantity": quantity,
                "revenue": price * quantity,
                "profit": (price - cost) * quantity,
            }
    return orders


def expected_kpis(orders: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Total orders, revenue, profit and margin % (two places, half up)."""
    revenue = sum((order["revenue"] for order in orders.values()), Decimal(0))
    profit = sum((order["profit"] for order in orders.values()), Decimal(0))
    return {
        "total_orders": len(orders),
        "total_revenue": revenue,
        "total_profit": profit,
        "profit_margin_pct": (profit * 100 / revenue).quantize(CENT, rounding=ROUND_HALF_UP),
    }


def totals_by(orders: dict[str, dict[str, Any]], key: str) -> dict[Any, dict[str, Decimal | int]]:
    """Orders, units, revenue and profit grouped by one column."""
    grouped: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "units": 0, "revenue": Decimal(0), "profit": Decimal(0)}
    )
    for order in orders.values():
        group = grouped[order[key]]
        group["orders"] += 1
        group["units"] += order["quantity"]
        group["revenue"] += order["revenue"]
        group["profit"] += order["profit"]
    return dict(grouped)
