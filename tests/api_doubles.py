"""Sources for the embedded API server that break one rule on purpose; they count what was asked of them."""

from __future__ import annotations

from ecom_local.api.data import UnknownResourceError
from ecom_local.api.synthetic import SyntheticSource


class NoCarts(SyntheticSource):
    """A source whose `/carts` does not exist: the server answers 404, as DummyJSON does for an unknown route."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.carts_asked = 0  # counted at the server, not in the code under test

    def total(self, resource: str) -> int:
        """Refuse `carts` (the server turns that into a 404) and count the refusal."""
        if resource == "carts":
            self.carts_asked += 1
            raise UnknownResourceError(resource, ("users", "products"))
        return super().total(resource)
