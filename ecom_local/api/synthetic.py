"""A seeded, deterministic DummyJSON-shaped data source of any size: each record is computed on demand.

Record `i` of a resource is a pure function of `(seed, resource, i)`: a page costs time and memory in
proportion to its size, whatever the position, so a million cart lines are served with flat memory.
Money is computed with Decimal and turned into JSON floats only when a record is emitted; every amount
has at most two decimals, so the float's shortest repr is the exact decimal value.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ecom_local.api.data import UnknownResourceError
from ecom_local.api.vocabulary import (
    ADJECTIVES,
    CARD_TYPES,
    CATEGORIES,
    CATEGORY_NAMES,
    COUNTRIES,
    COUNTRY_NAMES,
    COUNTRY_WEIGHTS,
    DEPARTMENTS,
    EYE_COLORS,
    FIRST_NAMES,
    FIRST_NAMES_ALL,
    HAIR_COLORS,
    HAIR_TYPES,
    JOB_TITLES,
    LAST_NAMES,
    RETURN_POLICIES,
    REVIEW_COMMENTS,
    SHIPPING,
    STREETS,
    UNIVERSITIES,
    USER_AGENTS,
    WARRANTIES,
)

CENT = Decimal("0.01")
MAX_CART_PRODUCTS = 6
MAX_QUANTITY = 5
_MASK64 = (1 << 64) - 1
_SALTS = {"users": 0x75736572, "products": 0x70726F64, "carts": 0x63617274, "cart_size": 0x73697A65}
# Most orders are done; the rest exercise the pipeline's status handling (weights sum to 100).
_STATUSES: tuple[tuple[str, int], ...] = (
    ("completed", 78),
    ("shipped", 8),
    ("pending", 7),
    ("cancelled", 4),
    ("returned", 3),
)
_STATUS_SLOTS: tuple[str, ...] = tuple(name for name, weight in _STATUSES for _ in range(weight))


def _mix(*parts: int) -> int:
    """SplitMix64 over the parts: a cheap, well-spread 64-bit hash that is stable across processes."""
    state = 0x9E3779B97F4A7C15
    for part in parts:
        state = (state ^ (part & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & _MASK64
        state ^= state >> 29
    return state


def _money(value: Decimal) -> float:
    """Decimal amount -> JSON number; exact because the amount has at most two decimals."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _digits(rng: random.Random, pattern: str) -> str:
    """Fill `#` with digits and `?` with capital letters, e.g. a postal code or an SSN."""
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(rng.randrange(10)))
        elif char == "?":
            out.append(chr(65 + rng.randrange(26)))
        else:
            out.append(char)
    return "".join(out)


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("'", "").split())


def line_money(price: Decimal, quantity: int, discount_percentage: Decimal) -> tuple[Decimal, Decimal]:
    """A cart line's `total` (price x quantity) and `discountedTotal` (discount rounded half up to cents)."""
    total = price * quantity
    discounted = (total * (1 - discount_percentage / 100)).quantize(CENT, rounding=ROUND_HALF_UP)
    return total, discounted


class SyntheticSource:
    """Seeded DummyJSON-like users, products and carts; any page is computed from the seed on demand."""

    def __init__(
        self,
        users: int = 200,
        products: int = 194,
        carts: int = 500,
        seed: int = 42,
        with_dates: bool = True,
        start_date: date = date(2026, 6, 1),
        days: int = 30,
    ) -> None:
        if users < 1 or products < 1 or carts < 0:
            raise ValueError(f"need users >= 1, products >= 1, carts >= 0; got {users}, {products}, {carts}")
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        self.counts = {"users": users, "products": products, "carts": carts}
        self.seed = seed
        self.with_dates = with_dates
        self.start_date = start_date
        self.days = days
        # Carts repeat a small catalogue: remember each product's cart-facing fields (bounded by `products`).
        self._product_cores: dict[int, dict[str, Any]] = {}
        self._cart_lines: int | None = None
        self._dates = tuple((start_date + timedelta(days=offset)).isoformat() for offset in range(days))

    @classmethod
    def for_cart_lines(cls, cart_lines: int, seed: int = 42, **kwargs: Any) -> SyntheticSource:
        """A source whose carts hold about `cart_lines` lines in total (at most 5 over the target)."""
        if "carts" in kwargs:
            raise TypeError("for_cart_lines() picks `carts` itself; do not pass it")
        probe = cls(seed=seed, carts=0, **kwargs)
        lines, carts = 0, 0
        while lines < cart_lines:
            carts += 1
            lines += probe._line_count(carts)
        source = cls(seed=seed, carts=carts, **kwargs)
        source._cart_lines = lines
        return source

    def cart_lines(self) -> int:
        """Exact number of cart lines across all carts (O(carts) time once, then cached)."""
        if self._cart_lines is None:
            self._cart_lines = sum(self._line_count(cart_id) for cart_id in range(1, self.counts["carts"] + 1))
        return self._cart_lines

    def total(self, resource: str) -> int:
        """Number of records of `resource`."""
        try:
            return self.counts[resource]
        except KeyError:
            raise UnknownResourceError(resource, tuple(self.counts)) from None

    def items(self, resource: str, skip: int, count: int) -> list[dict[str, Any]]:
        """Records [skip, skip+count) of `resource`, ids are positions + 1."""
        if skip < 0 or count < 0:
            raise ValueError(f"skip and count must be >= 0, got skip={skip}, count={count}")
        build = {"users": self.user, "products": self.product, "carts": self.cart}.get(resource)
        if build is None:
            raise UnknownResourceError(resource, tuple(self.counts))
        end = min(skip + count, self.counts[resource])
        return [build(position + 1) for position in range(skip, end)]

    def _rng(self, resource: str, record_id: int) -> random.Random:
        return random.Random(_mix(self.seed, _SALTS[resource], record_id))

    def _line_count(self, cart_id: int) -> int:
        """Distinct products in a cart, 1..6; an integer hash so that counting all carts stays cheap."""
        return 1 + _mix(self.seed, _SALTS["cart_size"], cart_id) % min(MAX_CART_PRODUCTS, self.counts["products"])

    def product_core(self, product_id: int) -> dict[str, Any]:
        """The fields a cart line copies from a product (title, price as Decimal, thumbnail, ...)."""
        core = self._product_cores.get(product_id)
        if core is None:
            core = self._draw_product_core(self._rng("products", product_id))
            self._product_cores[product_id] = core
        return core

    @staticmethod
    def _draw_product_core(rng: random.Random) -> dict[str, Any]:
        category = rng.choice(CATEGORY_NAMES)
        spec = CATEGORIES[category]
        brand = rng.choice(spec.brands)
        title = f"{brand} {rng.choice(ADJECTIVES)} {rng.choice(spec.nouns)}"
        whole = rng.randint(spec.price_min, spec.price_max)
        price = Decimal(whole) + Decimal(rng.choice((99, 99, 99, 49, 95, 79, 29))) / 100
        has_brand = rng.random() < 0.55  # about half of the real products carry no `brand` key
        slug = _slug(title)
        return {
            "category": category,
            "brand": brand if has_brand else None,
            "title": title,
            "slug": slug,
            "price": price,
            "price_number": _money(price),
            "thumbnail": f"https://cdn.dummyjson.com/product-images/{category}/{slug}/thumbnail.webp",
        }

    def product(self, product_id: int) -> dict[str, Any]:
        """Product `product_id`, shaped like DummyJSON's."""
        rng = self._rng("products", product_id)
        core = self._draw_product_core(rng)  # same draws as product_core(): carts and products agree
        category, title = core["category"], core["title"]
        stock = rng.randint(0, 120)
        created = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T09:41:02.053Z"
        record: dict[str, Any] = {
            "id": product_id,
            "title": title,
            "description": f"The {title} is a dependable pick in {category.replace('-', ' ')}.",
            "category": category,
            "price": _money(core["price"]),
            "discountPercentage": float(Decimal(rng.randint(0, 2000)) / 100),
            "rating": float(Decimal(rng.randint(100, 500)) / 100),
            "stock": stock,
            "tags": [category, core["slug"].split("-")[-1]],
        }
        if core["brand"] is not None:
            record["brand"] = core["brand"]
        record |= {
            "sku": f"{category[:3].upper()}-{_digits(rng, '???-###')}-{product_id:03d}",
            "weight": rng.randint(1, 10),
            "dimensions": {axis: rng.randint(500, 3000) / 100 for axis in ("width", "height", "depth")},
            "warrantyInformation": rng.choice(WARRANTIES),
            "shippingInformation": rng.choice(SHIPPING),
            "availabilityStatus": "Out of Stock" if stock == 0 else ("Low Stock" if stock < 10 else "In Stock"),
            "reviews": [
                {
                    "rating": rng.randint(1, 5),
                    "comment": rng.choice(REVIEW_COMMENTS),
                    "date": created,
                    "reviewerName": f"{rng.choice(FIRST_NAMES_ALL)} {rng.choice(LAST_NAMES)}",
                    "reviewerEmail": f"reviewer.{rng.randrange(10_000)}@x.dummyjson.com",
                }
                for _ in range(rng.randint(1, 3))
            ],
            "returnPolicy": rng.choice(RETURN_POLICIES),
            "minimumOrderQuantity": rng.randint(1, 50),
            "meta": {
                "createdAt": created,
                "updatedAt": created,
                "barcode": _digits(rng, "#############"),
                "qrCode": "https://cdn.dummyjson.com/public/qr-code.png",
            },
            "images": [f"https://cdn.dummyjson.com/product-images/{category}/{core['slug']}/1.webp"],
            "thumbnail": core["thumbnail"],
        }
        return record

    def user(self, user_id: int) -> dict[str, Any]:
        """User `user_id`, with the personal-looking fields the real data has (all fake)."""
        rng = self._rng("users", user_id)
        gender = rng.choice(("female", "male"))
        first = rng.choice(FIRST_NAMES[gender])
        last = rng.choice(LAST_NAMES)
        username = f"{first[:4]}{last[:3]}{user_id}".lower()
        age = rng.randint(18, 75)
        country = rng.choices(COUNTRY_NAMES, weights=COUNTRY_WEIGHTS)[0]
        place = COUNTRIES[country]
        return {
            "id": user_id,
            "firstName": first,
            "lastName": last,
            "maidenName": rng.choice(("", *LAST_NAMES[:8])),
            "age": age,
            "gender": gender,
            "email": f"{first}.{last}{user_id}@x.dummyjson.com".lower(),
            "phone": f"{place.phone_code} {_digits(rng, '###-###-####')}",
            "username": username,
            "password": f"{username}{_digits(rng, '##??')}".lower(),
            "birthDate": f"{2026 - age}-{rng.randint(1, 12)}-{rng.randint(1, 28)}",
            "image": f"https://dummyjson.com/icon/{username}/128",
            "bloodGroup": rng.choice(("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")),
            "height": rng.randint(15000, 20000) / 100,
            "weight": rng.randint(5000, 11000) / 100,
            "eyeColor": rng.choice(EYE_COLORS),
            "hair": {"color": rng.choice(HAIR_COLORS), "type": rng.choice(HAIR_TYPES)},
            "ip": ".".join(str(rng.randint(1, 254)) for _ in range(4)),
            "address": _address(rng, country),
            "macAddress": ":".join(f"{rng.randrange(256):02x}" for _ in range(6)),
            "university": rng.choice(UNIVERSITIES),
            "bank": {
                "cardExpire": f"{rng.randint(1, 12):02d}/{rng.randint(26, 31)}",
                "cardNumber": _digits(rng, "################"),
                "cardType": rng.choice(CARD_TYPES),
                "currency": place.currency,
                "iban": f"{place.iban_prefix}{_digits(rng, '##??##????####??##')}",
            },
            "company": {
                "department": rng.choice(DEPARTMENTS),
                "name": f"{rng.choice(LAST_NAMES)}, {rng.choice(LAST_NAMES)} and {last}",
                "title": rng.choice(JOB_TITLES),
                "address": _address(rng, country),
            },
            "ein": _digits(rng, "###-###"),
            "ssn": _digits(rng, "###-###-###"),
            "userAgent": rng.choice(USER_AGENTS),
            "crypto": {
                "coin": "Bitcoin",
                "wallet": "0x" + "".join(f"{rng.randrange(256):02x}" for _ in range(20)),
                "network": "Ethereum (ERC20)",
            },
            "role": rng.choices(("user", "moderator", "admin"), weights=(92, 5, 3))[0],
        }

    def cart(self, cart_id: int) -> dict[str, Any]:
        """Cart `cart_id`: 1-6 distinct products copied from the catalogue, totals exact to the cent."""
        # The hot path of large runs: `int(draw() * n)` instead of randint, and no re-rounding of amounts
        # that are already exact cents (price x quantity, sums of cents, a quantized discounted total).
        rng = self._rng("carts", cart_id)
        draw = rng.random
        user_id = 1 + int(draw() * self.counts["users"])
        product_ids = rng.sample(range(1, self.counts["products"] + 1), self._line_count(cart_id))
        lines, cart_total, cart_discounted, quantity_sum = [], Decimal(0), Decimal(0), 0
        for product_id in product_ids:
            core = self.product_core(product_id)
            quantity = 1 + int(draw() * MAX_QUANTITY)
            discount = Decimal(int(draw() * 2501)) / 100  # 0.00 .. 25.00 %
            total, discounted = line_money(core["price"], quantity, discount)
            lines.append(
                {
                    "id": product_id,
                    "title": core["title"],
                    "price": core["price_number"],
                    "quantity": quantity,
                    "total": float(total),
                    "discountPercentage": float(discount),
                    "discountedTotal": float(discounted),
                    "thumbnail": core["thumbnail"],
                }
            )
            cart_total += total
            cart_discounted += discounted
            quantity_sum += quantity
        record: dict[str, Any] = {
            "id": cart_id,
            "products": lines,
            "total": float(cart_total),
            "discountedTotal": float(cart_discounted),
            "userId": user_id,
            "totalProducts": len(lines),
            "totalQuantity": quantity_sum,
        }
        if self.with_dates:
            record["date"] = self._dates[int(draw() * self.days)]
            record["status"] = _STATUS_SLOTS[int(draw() * len(_STATUS_SLOTS))]
        return record


def _address(rng: random.Random, country: str) -> dict[str, Any]:
    """A street address in one of the country's cities, with coordinates near the city."""
    place = COUNTRIES[country]
    city = rng.choice(place.cities)
    return {
        "address": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": city.name,
        "state": city.state,
        "stateCode": city.state_code,
        "postalCode": _digits(rng, place.postal_pattern),
        "coordinates": {
            "lat": round(city.lat + rng.uniform(-0.2, 0.2), 6),
            "lng": round(city.lng + rng.uniform(-0.2, 0.2), 6),
        },
        "country": country,
    }
