"""Schema drift: the JSON paths and types the source sent, compared with what the pipeline knows about them.

`FieldProfile` sees every raw record before sanitizing drops anything (extract/sanitize.py) and keeps, per JSON
path, the JSON types seen there: never a value. It walks only the structure the pipeline knows: a new field is
noted with its type but not entered, so memory stays bounded by the known paths plus the new names (at most
`MAX_PATHS`) whatever the source sends, at one pass per record. Fields dropped on purpose (`DROPPED_FIELDS`) are
known and skipped: not even their names reach the manifest, an event or a summary.

Land keeps each chunk's profile in the manifest (`fields` of a `chunks` entry), so a run that reuses unchanged
chunks still reports drift over every record; `drift_report` merges the chunks' profiles and compares them with the
declared schema below. Drift is reported, never acted on: the allow-list alone decides what lands, so a new field
(sensitive or not) stays out of the lake until someone adds it to the allow-list and to `SOURCE_SCHEMA`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

MAX_PATHS = 1000  # distinct paths kept per profile; more only come from a source inventing keys (noted, not kept)
ROOT = "$"

# The source's records as the pipeline knows them: JSON type per field ("string", "number", "boolean"), a nested
# mapping for an object, a one-item list for an array of that item. A trailing "?" marks a field the pipeline
# accepts but the source need not send (DummyJSON carts have no date or status; about half its products no brand).
# Every field here is landed: tests/extract/test_extract_drift.py checks these names against the allow-list.
TypeSpec = Union[str, "Mapping[str, TypeSpec]", "list[TypeSpec]"]  # a recursive alias needs the string form

_ADDRESS: dict[str, TypeSpec] = {
    "address": "string", "city": "string", "state": "string", "stateCode": "string", "postalCode": "string",
    "coordinates": {"lat": "number", "lng": "number"}, "country": "string",
}  # fmt: skip
_USER_STRINGS = (
    "firstName", "lastName", "maidenName", "gender", "email", "phone", "username", "birthDate", "image",
    "bloodGroup", "eyeColor", "university", "role",
)  # fmt: skip
_PRODUCT_NUMBERS = ("id", "price", "discountPercentage", "rating", "stock", "weight", "minimumOrderQuantity")
_PRODUCT_STRINGS = (
    "title", "description", "category", "sku", "warrantyInformation", "shippingInformation", "availabilityStatus",
    "returnPolicy", "thumbnail",
)  # fmt: skip
_REVIEW: dict[str, TypeSpec] = {
    "rating": "number", "comment": "string", "date": "string", "reviewerName": "string", "reviewerEmail": "string",
}  # fmt: skip
_CART_NUMBERS = ("id", "userId", "total", "discountedTotal", "totalProducts", "totalQuantity")
_CART_LINE_NUMBERS = ("id", "price", "quantity", "total", "discountPercentage", "discountedTotal")

SOURCE_SCHEMA: dict[str, dict[str, TypeSpec]] = {
    "users": {
        **dict.fromkeys(("id", "age", "height", "weight"), "number"),
        **dict.fromkeys(_USER_STRINGS, "string"),
        "hair": {"color": "string", "type": "string"},
        "address": _ADDRESS,
        "company": {"department": "string", "name": "string", "title": "string", "address": _ADDRESS},
    },
    "products": {
        **dict.fromkeys(_PRODUCT_NUMBERS, "number"),
        **dict.fromkeys(_PRODUCT_STRINGS, "string"),
        "brand": "string?",
        "tags": ["string"],
        "images": ["string"],
        "dimensions": dict.fromkeys(("width", "height", "depth"), "number"),
        "reviews": [_REVIEW],
        "meta": dict.fromkeys(("createdAt", "updatedAt", "barcode", "qrCode"), "string"),
    },
    "carts": {
        **dict.fromkeys(_CART_NUMBERS, "number"),
        "date": "string?",
        "status": "string?",
        "products": [{**dict.fromkeys(_CART_LINE_NUMBERS, "number"), "title": "string", "thumbnail": "string"}],
    },
}

# Top-level fields the source sends and the allow-list drops on purpose (sensitive; from the real DummyJSON snapshot):
# known, so never reported as new, and never profiled, since they never land.
DROPPED_FIELDS: dict[str, frozenset[str]] = {
    "users": frozenset(("password", "ssn", "ein", "ip", "macAddress", "userAgent", "bank", "crypto")),
    "products": frozenset(),
    "carts": frozenset(),
}

JSON_TYPES: dict[type, str] = {
    dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
    type(None): "null",
}  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def child_path(parent: str, key: str) -> str:
    """JSONPath of field `key` of the object at `parent`: `$.address.city`, or `$["odd key"]` when not a name."""
    return f"{parent}.{key}" if _IDENTIFIER.match(key) else f"{parent}[{json.dumps(key)}]"


def items_path(parent: str) -> str:
    """JSONPath of the items of the array at `parent`: `$.products[*]`."""
    return f"{parent}[*]"


@dataclass(frozen=True)
class Expected:
    """What the pipeline knows about one landed path: its JSON type, whether the source may omit it."""

    type: str
    optional: bool
    parent: str  # the object (or array items) path holding it; its children count as missing only when it came


def expected_paths(resource: str) -> dict[str, Expected]:
    """Every landed path of `resource` with its expectation."""
    known: dict[str, Expected] = {}

    def walk(spec: TypeSpec, path: str, parent: str, optional: bool) -> None:
        if isinstance(spec, str):
            known[path] = Expected(spec.rstrip("?"), optional or spec.endswith("?"), parent)
        elif isinstance(spec, list):
            known[path] = Expected("array", optional, parent)
            # An empty array is no missing field: its items path is never reported missing.
            walk(spec[0], items_path(path), path, True)
        else:
            if path != ROOT:
                known[path] = Expected("object", optional, parent)
            for key, child in spec.items():
                walk(child, child_path(path, key), path, False)

    walk(SOURCE_SCHEMA[resource], ROOT, "", False)
    return known


class _ObjectNode:
    """The keys seen on objects at one known path, with their Python types; the known containers below it."""

    __slots__ = ("arrays", "dropped", "objects", "path", "seen")

    def __init__(self, path: str, spec: Mapping[str, TypeSpec], dropped: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.dropped = dropped
        # Dropped keys start as seen, so the hot loop treats them as known; `as_json` leaves them out.
        self.seen: dict[str, set[type]] = {key: set() for key in dropped}
        self.objects = {key: _ObjectNode(child_path(path, key), sub) for key, sub in spec.items() if _is_object(sub)}
        self.arrays = {key: _ArrayNode(child_path(path, key), sub[0]) for key, sub in spec.items() if _is_array(sub)}


class _ArrayNode:
    """The item types seen in arrays at one known path; the node of their objects when items are objects."""

    __slots__ = ("items", "path", "seen")

    def __init__(self, path: str, item_spec: TypeSpec) -> None:
        self.path = items_path(path)
        self.seen: set[type] = set()
        self.items = _ObjectNode(self.path, item_spec) if _is_object(item_spec) else None


def _is_object(spec: TypeSpec) -> bool:
    return isinstance(spec, Mapping)


def _is_array(spec: TypeSpec) -> bool:
    return isinstance(spec, list)


class FieldProfile:
    """Per JSON path of one resource's raw records, the JSON types seen; keeps names and types, never values."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.records = 0
        self.truncated = False  # a new name came after MAX_PATHS were kept; it is not recorded
        self._root = _ObjectNode(ROOT, SOURCE_SCHEMA[resource], DROPPED_FIELDS[resource])
        self._paths = 0

    def observe(self, items: Iterable[Any]) -> None:
        """Note the fields and types of raw source items (objects only: validation reports anything else)."""
        root, walk = self._root, self._walk
        for item in items:
            if type(item) is dict:
                self.records += 1
                walk(root, item)

    def _walk(self, node: _ObjectNode, record: dict[str, Any]) -> None:
        # The hot path of ingestion (a million cart lines): type objects, not names; known containers only.
        seen = node.seen
        for key, value in record.items():
            kinds = seen.get(key)
            if kinds is None:
                if self._paths >= MAX_PATHS:
                    self.truncated = True
                    continue
                kinds = seen[key] = set()
                self._paths += 1
            value_type = type(value)
            kinds.add(value_type)
            if value_type is dict:
                child = node.objects.get(key)
                if child is not None:
                    self._walk(child, value)
            elif value_type is list:
                array = node.arrays.get(key)
                if array is not None:
                    array.seen.update(map(type, value))
                    if array.items is not None:
                        for entry in value:
                            if type(entry) is dict:
                                self._walk(array.items, entry)

    def as_json(self) -> dict[str, Any]:
        """`{"records": n, "paths": {jsonpath: [json types]}}` (plus `"truncated": true` past MAX_PATHS)."""
        paths: dict[str, list[str]] = {}

        def collect(node: _ObjectNode) -> None:
            for key, kinds in node.seen.items():
                if key not in node.dropped:
                    paths[child_path(node.path, key)] = _type_names(kinds)
            for child in node.objects.values():
                collect(child)
            for array in node.arrays.values():
                if array.seen:
                    paths[array.path] = _type_names(array.seen)
                if array.items is not None:
                    collect(array.items)

        collect(self._root)
        profile: dict[str, Any] = {"records": self.records, "paths": dict(sorted(paths.items()))}
        if self.truncated:
            profile["truncated"] = True
        return profile


def _type_names(kinds: Iterable[type]) -> list[str]:
    return sorted({JSON_TYPES.get(kind, kind.__name__) for kind in kinds})


def drift_report(resource: str, profiles: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Compare the merged profiles of a resource's chunks (None: a chunk landed without one) with what is known.

    - added: paths the source sent that the pipeline does not know, with the types seen (they do not land);
    - missing: known paths no record carried, though the object holding them came (optional ones excepted);
    - type_changed: known paths that came with a type other than the expected one (null is not a change: a
      required value that is null is the validation's business).
    Missing fields are judged only when every chunk has a profile (`complete`).
    """
    seen: dict[str, set[str]] = {}
    records, complete = 0, True
    for profile in profiles:
        if profile is None:
            complete = False
            continue
        records += profile["records"]
        complete = complete and not profile.get("truncated", False)
        for path, types in profile["paths"].items():
            seen.setdefault(path, set()).update(types)
    known = expected_paths(resource)
    added = [{"path": path, "types": sorted(types)} for path, types in seen.items() if path not in known]
    type_changed = [
        {"path": path, "expected": want.type, "seen": sorted(seen[path])}
        for path, want in known.items()
        if seen.get(path, set()) - {want.type, "null"}
    ]
    missing = []
    if complete and records:
        missing = [
            {"path": path, "expected": want.type}
            for path, want in known.items()
            if not want.optional and path not in seen and _came(want.parent, seen)
        ]
    changes = {"added": added, "missing": missing, "type_changed": type_changed}
    return {
        "status": "drift" if any(changes.values()) else "no drift",
        "records": records,
        "complete": complete,
        **{name: sorted(entries, key=lambda entry: entry["path"]) for name, entries in changes.items()},
    }


def _came(parent: str, seen: Mapping[str, set[str]]) -> bool:
    """Whether the object holding a field came at all (the record root always did)."""
    return parent == ROOT or "object" in seen.get(parent, set())


def drift_counts(report: Mapping[str, Any]) -> str:
    """`no drift`, or e.g. `1 added, 1 missing, 1 type changed` for summaries."""
    if report.get("status") != "drift":
        return "no drift"
    parts = [(len(report["added"]), "added"), (len(report["missing"]), "missing")]
    parts.append((len(report["type_changed"]), "type changed"))
    return ", ".join(f"{count} {label}" for count, label in parts if count)
