"""Where the API server's records come from: the `DataSource` protocol and a folder of DummyJSON files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# The resources DummyJSON serves and this project reads (kept here: the source does not depend on settings).
KNOWN_RESOURCES: tuple[str, ...] = ("users", "products", "carts")


class UnknownResourceError(KeyError):
    """A resource the source does not hold; the message lists the ones it does."""

    def __init__(self, resource: str, available: tuple[str, ...]) -> None:
        self.resource, self.available = resource, available
        super().__init__(f"unknown resource '{resource}'; available: {', '.join(available) or 'none'}")

    def __str__(self) -> str:
        # KeyError's own __str__ quotes the message as a repr; show it as written.
        return str(self.args[0])


@runtime_checkable
class DataSource(Protocol):
    """Records by position: what the API server pages over."""

    def total(self, resource: str) -> int:
        """Number of records of `resource`; raises UnknownResourceError for a resource it lacks."""
        ...

    def items(self, resource: str, skip: int, count: int) -> list[dict[str, Any]]:
        """Records [skip, skip+count) of `resource` (fewer at the end): JSON-ready dicts the caller owns."""
        ...


class DirectorySource:
    """A folder holding DummyJSON `GET /<resource>?limit=0` answers: users.json, products.json, carts.json."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._records: dict[str, list[dict[str, Any]]] = {}
        for resource in KNOWN_RESOURCES:
            file = self.path / f"{resource}.json"
            if file.is_file():
                self._records[resource] = _read_resource_file(file, resource)
        if not self._records:
            expected = ", ".join(f"{name}.json" for name in KNOWN_RESOURCES)
            raise FileNotFoundError(f"no DummyJSON files in {self.path}; expected one of {expected}")

    @property
    def resources(self) -> tuple[str, ...]:
        """The resources this folder holds."""
        return tuple(self._records)

    def total(self, resource: str) -> int:
        """Number of records of `resource`."""
        return len(self._records_of(resource))

    def items(self, resource: str, skip: int, count: int) -> list[dict[str, Any]]:
        """Copies of records [skip, skip+count), so a caller's edits never leak into later pages."""
        if skip < 0 or count < 0:
            raise ValueError(f"skip and count must be >= 0, got skip={skip}, count={count}")
        return copy.deepcopy(self._records_of(resource)[skip : skip + count])

    def _records_of(self, resource: str) -> list[dict[str, Any]]:
        try:
            return self._records[resource]
        except KeyError:
            raise UnknownResourceError(resource, self.resources) from None


def _read_resource_file(file: Path, resource: str) -> list[dict[str, Any]]:
    """Read one `{"<resource>": [...], "total": N, ...}` file and check it holds what it says."""
    document = json.loads(file.read_text(encoding="utf-8"))
    records = document.get(resource) if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"{file}: expected an object with a '{resource}' list")
    return records
