"""Record rules at the door: pydantic models of the fields the pipeline uses; extra fields pass through.

A record that breaks a rule is quarantined with a short reason, not fatal: the run goes on without it.
Integers are strict (a string id or a boolean quantity would break the Spark job's typed schema) and money
must arrive as a JSON number, parsed into Decimal from its literal so no float arithmetic touches it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ecom_pipeline.exceptions import ConfigError


def _json_number_to_decimal(value: Any) -> Any:
    """Accept JSON numbers only (not strings, not booleans) and turn floats into Decimal via their literal."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("json_number", "Input should be a JSON number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        # repr() is the shortest literal that round-trips: the very digits the API sent.
        return Decimal(repr(value))
    return Decimal(value)


# The curated contract's types bound what may pass the door: ids are BIGINT, quantities INT, money
# DECIMAL(12,2). A larger value would become null (or overflow) inside the Spark job instead of being
# quarantined here with a reason.
MAX_ID = 2**63 - 1
MAX_QUANTITY = 2**31 - 1
MONEY_LIMIT = Decimal("1E10")  # DECIMAL(12,2) holds up to 9,999,999,999.99

Money = Annotated[Decimal, BeforeValidator(_json_number_to_decimal), Field(lt=MONEY_LIMIT, gt=-MONEY_LIMIT)]
PositiveId = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
Count = Annotated[int, Field(strict=True, ge=0)]
NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Record(BaseModel):
    """Common config: unknown fields are kept (the allow-list already removed the sensitive ones)."""

    model_config = ConfigDict(extra="allow")


class Address(_Record):
    """A postal address; every part optional (the transform fills blanks with `Unknown`)."""

    address: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


class User(_Record):
    """A customer: the transform joins carts to users on `id` and needs a name and an email."""

    id: PositiveId
    firstName: str | None = None
    lastName: str | None = None
    email: NonBlank
    address: Address | None = None


class Product(_Record):
    """A catalogue entry: the transform reads category and brand, the price feeds cost and profit."""

    id: PositiveId
    title: str | None = None
    category: str | None = None
    brand: str | None = None
    price: Annotated[Money, Field(gt=0)]
    discountPercentage: Annotated[Money, Field(ge=0, le=100)] | None = None


class CartLine(_Record):
    """One product in a cart: becomes one order row downstream."""

    id: PositiveId
    title: str | None = None
    price: Annotated[Money, Field(gt=0)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
    total: Money | None = None
    discountPercentage: Annotated[Money, Field(ge=0, le=100)] | None = None
    discountedTotal: Money | None = None

    @model_validator(mode="after")
    def _revenue_fits(self) -> CartLine:
        """price × quantity is the order's revenue: it must fit DECIMAL(12,2) too."""
        if self.price * self.quantity >= MONEY_LIMIT:
            raise ValueError(f"price × quantity must be below {MONEY_LIMIT:,.0f} (DECIMAL(12,2))")
        return self


class Cart(_Record):
    """A cart (an order): its lines, the customer, and optional date/status (DummyJSON carts have neither)."""

    id: PositiveId
    userId: PositiveId
    products: list[CartLine]
    total: Money | None = None
    discountedTotal: Money | None = None
    totalProducts: Count | None = None
    totalQuantity: Count | None = None
    date: str | None = None
    status: str | None = None


MODELS: dict[str, type[_Record]] = {"users": User, "products": Product, "carts": Cart}


def validate_record(resource: str, record: Any) -> str | None:
    """Return None when `record` is a valid `resource` record, else a short reason naming the field."""
    try:
        model = MODELS[resource]
    except KeyError:
        raise ConfigError(f"no model for resource '{resource}'; valid: {', '.join(MODELS)}") from None
    try:
        model.model_validate(record)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "record"
        # One reason per record keeps quarantine counts groupable; the first error is the one to fix first.
        return f"{field}: {first['msg']}"
    return None
