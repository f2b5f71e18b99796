"""The snapshot's sensitive values and a readable form of what the lake holds, for the tests that search for leaks."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

# Fields the allow-list drops (ecom_pipeline/extract/sanitize.py); their values must appear nowhere.
SENSITIVE_PATHS = (
    ("password",), ("ssn",), ("ein",), ("ip",), ("macAddress",), ("userAgent",),
    ("bank", "cardNumber"), ("bank", "iban"), ("crypto", "wallet"),
)  # fmt: skip


def sensitive_values(dummyjson_dir: Path) -> dict[str, str]:
    """value -> `users[id].field` for every sensitive value in the source data."""
    users = json.loads((dummyjson_dir / "users.json").read_text(encoding="utf-8"))["users"]
    values = {}
    for user in users:
        for path in SENSITIVE_PATHS:
            value: Any = user
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and len(value) >= 6:
                values[value] = f"users[{user['id']}].{'.'.join(path)}"
    return values


def object_text(key: str, body: bytes) -> str:
    """What an object holds, readable: gzip decompressed, Parquet decoded row by row, else the text."""
    if key.endswith(".gz"):
        return gzip.decompress(body).decode("utf-8")
    if key.endswith(".parquet"):
        return json.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str, ensure_ascii=False)
    return body.decode("utf-8", errors="replace")
