"""Allow-lists of the fields kept per resource; everything else (passwords, SSNs, bank data, ...) is dropped.

An allow-list rather than a block-list, so a field the source adds tomorrow stays out of the lake until
someone decides it belongs there. A leaf field keeps JSON scalars and lists of scalars only: if the source
ever nests an object where we expect a plain value, that object is dropped rather than copied blindly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from ecom_pipeline.exceptions import ConfigError

# A field spec: LEAF keeps a scalar (or a list of scalars); a nested mapping allow-lists an object, or each
# object of a list of objects.
LEAF = None
FieldSpec = Union[None, "Mapping[str, FieldSpec]"]  # a recursive alias needs the string form

_USER_LEAVES = (
    "id", "firstName", "lastName", "maidenName", "age", "gender", "email", "phone", "username",
    "birthDate", "image", "bloodGroup", "height", "weight", "eyeColor", "university", "role",
)  # fmt: skip
_PRODUCT_LEAVES = (
    "id", "title", "description", "category", "price", "discountPercentage", "rating", "stock", "tags",
    "brand", "sku", "weight", "warrantyInformation", "shippingInformation", "availabilityStatus",
    "returnPolicy", "minimumOrderQuantity", "images", "thumbnail",
)  # fmt: skip
_CART_LEAVES = (
    "id", "userId", "total", "discountedTotal", "totalProducts", "totalQuantity", "date", "status",
)  # fmt: skip
_CART_LINE_LEAVES = (
    "id", "title", "price", "quantity", "total", "discountPercentage", "discountedTotal", "thumbnail",
)  # fmt: skip

_COORDINATES: dict[str, FieldSpec] = {"lat": LEAF, "lng": LEAF}
_ADDRESS: dict[str, FieldSpec] = {
    "address": LEAF,
    "city": LEAF,
    "state": LEAF,
    "stateCode": LEAF,
    "postalCode": LEAF,
    "coordinates": _COORDINATES,
    "country": LEAF,
}

USER_FIELDS: dict[str, FieldSpec] = {
    **dict.fromkeys(_USER_LEAVES, LEAF),
    "hair": {"color": LEAF, "type": LEAF},
    "address": _ADDRESS,
    "company": {"department": LEAF, "name": LEAF, "title": LEAF, "address": _ADDRESS},
}
PRODUCT_FIELDS: dict[str, FieldSpec] = {
    **dict.fromkeys(_PRODUCT_LEAVES, LEAF),
    "dimensions": {"width": LEAF, "height": LEAF, "depth": LEAF},
    "reviews": {"rating": LEAF, "comment": LEAF, "date": LEAF, "reviewerName": LEAF, "reviewerEmail": LEAF},
    "meta": {"createdAt": LEAF, "updatedAt": LEAF, "barcode": LEAF, "qrCode": LEAF},
}
CART_FIELDS: dict[str, FieldSpec] = {
    **dict.fromkeys(_CART_LEAVES, LEAF),
    "products": dict.fromkeys(_CART_LINE_LEAVES, LEAF),
}

ALLOWED_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "users": USER_FIELDS,
    "products": PRODUCT_FIELDS,
    "carts": CART_FIELDS,
}

_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


def sanitize(resource: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict holding only the allow-listed fields of `record` (key order as received)."""
    try:
        spec = ALLOWED_FIELDS[resource]
    except KeyError:
        valid = ", ".join(ALLOWED_FIELDS)
        raise ConfigError(f"no field allow-list for resource '{resource}'; valid: {valid}") from None
    return _keep_object(record, spec)


def _keep_object(record: Mapping[str, Any], spec: Mapping[str, FieldSpec]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in record.items():
        if key not in spec:
            continue
        if type(value) in _SCALAR_TYPES:  # the common case, without a function call (1M cart lines)
            kept[key] = value
        elif (cleaned := _keep_value(value, spec[key])) is not _DROP:
            kept[key] = cleaned
    return kept


_DROP = object()


def _keep_value(value: Any, spec: FieldSpec) -> Any:
    """The allowed part of one value, or `_DROP` when it nests containers the spec does not allow."""
    if isinstance(value, _SCALARS):
        # A scalar cannot smuggle nested keys; a scalar where an object is expected is kept so that
        # validation, not sanitizing, reports the wrong shape.
        return value
    if spec is LEAF:
        if isinstance(value, list) and all(isinstance(item, _SCALARS) for item in value):
            return list(value)
        return _DROP
    if isinstance(value, Mapping):
        return _keep_object(value, spec)
    if isinstance(value, list):
        # A list of objects (cart lines, reviews): allow-list each; nested lists inside it are dropped.
        return [
            _keep_object(item, spec) if isinstance(item, Mapping) else item
            for item in value
            if isinstance(item, (Mapping, *_SCALARS))
        ]
    return _DROP
