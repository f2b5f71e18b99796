"""Deliberate transient failures, for proving the retry policies (`ECOM_INJECT_FAULTS`).

`ECOM_INJECT_FAULTS="fetch-and-land=1,transform=1,snowflake-load=1"` makes the first attempt of each named
task fail with that stage's own transient error, before it does any work. Unset (the default), nothing
happens. The counts are per process, so a retried task sees its fault only once.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from ecom_pipeline.exceptions import PipelineError, TransformError, TransientSourceError, WarehouseError

ENV_VAR = "ECOM_INJECT_FAULTS"
_ERRORS: dict[str, type[PipelineError]] = {
    "fetch-and-land": TransientSourceError,
    "transform": TransformError,
    "snowflake-load": WarehouseError,
    "report": WarehouseError,
}
_raised: Counter[str] = Counter()
_lock = threading.Lock()


def planned_faults(spec: str | None = None) -> dict[str, int]:
    """Parse `stage=count,...`; an unknown stage is an error that lists the valid ones."""
    spec = os.environ.get(ENV_VAR, "") if spec is None else spec
    faults: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        stage, _, count = item.partition("=")
        if stage not in _ERRORS:
            raise PipelineError(f"{ENV_VAR}: unknown stage {stage!r}; valid: {', '.join(_ERRORS)}")
        faults[stage] = int(count or 1)
    return faults


def inject_fault(stage: str) -> None:
    """Raise the stage's transient error if a fault is still planned for it."""
    planned = planned_faults().get(stage, 0)
    with _lock:
        if _raised[stage] >= planned:
            return
        _raised[stage] += 1
        attempt = _raised[stage]
    message = f"injected transient fault {attempt}/{planned} in stage {stage} ({ENV_VAR})"
    error_type = _ERRORS[stage]
    error = error_type(message) if error_type is TransientSourceError else error_type(message, transient=True)
    assert error.transient, f"{error_type.__name__} must say a retry can help"
    raise error


def reset_faults() -> None:
    """Forget which faults were raised (tests run several flows in one process)."""
    with _lock:
        _raised.clear()
