"""What flows/automations.py and flows/slas.py share: reading a YAML file of named Prefect objects as code."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ecom_pipeline.exceptions import ConfigError


def one_line(error: object) -> str:
    """An error's text on one line (YAML and HTTP errors span several)."""
    return " ".join(str(error).split())


def read_entries(path: Path, what: str, list_key: str, entry: str) -> tuple[dict[str, Any], list[tuple[str, dict]]]:
    """The file's mapping, and each mapping of its `list_key` list with where it is (`<what> <path>, <entry> 'name'`).

    Raises ConfigError naming the file (and the entry) for unreadable YAML, a missing list or an entry that is not a
    mapping.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{what} {path}: {one_line(error)}") from error
    if not isinstance(document, dict) or not isinstance(document.get(list_key), list):
        article = "an" if list_key[0] in "aeiou" else "a"
        raise ConfigError(f"{what} {path}: expected a mapping with {article} `{list_key}` list")
    entries = []
    for index, raw in enumerate(document[list_key]):
        name = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
        where = f"{what} {path}, {entry} {name!r}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        entries.append((where, raw))
    return document, entries


def require_unique_names(path: Path, what: str, names: Iterable[str]) -> None:
    """Names are the keys Prefect updates by: a name given twice is an error naming it."""
    names = list(names)
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ConfigError(f"{what} {path}: names must be unique (they are the keys): {doubled}")
