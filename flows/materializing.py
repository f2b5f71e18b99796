"""A Prefect materializing task whose assets are decided at each call, from the call's arguments.

Prefect's `@materialize` takes its asset keys when the module is imported, but ours are the run's real locations
(buckets, prefixes, the Snowflake account), known only from the `Settings` a call receives. So a task made with
`materialize_from(plan)` asks `plan` for its assets at every call and runs Prefect's own copy of itself with those
assets (`MaterializingTask.with_options`): every flow that calls the task, not only the one that defined it,
records the same materializations.

Lineage is declared by the plan, never inferred. Prefect infers upstream assets from task results passed as
arguments; our tasks pass each other run figures (summaries) while the data moves through S3 and Snowflake, so
inference would draw false edges (every view "depending" on the raw zone through the run summary; in a trial run
it even made the carts landing depend on the users and products raw zones). Arguments are therefore passed
`quote`d, Prefect's annotation that turns dependency tracking off for a value; futures and states are left alone
so they still resolve. The cost: the flow-run graph draws no arrow between these task runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.assets import Asset
from prefect.futures import PrefectFuture
from prefect.states import State
from prefect.tasks import MaterializingTask
from prefect.utilities.annotations import quote

# Task.__call__ / submit options that are not arguments of the task's function.
_CALL_OPTIONS = ("return_state", "wait_for")


@dataclass(frozen=True)
class Materialization:
    """What one task call materializes, from which upstream assets, by which tool (Prefect's `materialized_by`)."""

    stage: str
    assets: tuple[Asset, ...]
    upstream: tuple[Asset, ...] = ()
    by: str | None = None


Plan = Callable[..., Materialization]


class PlannedMaterializingTask(MaterializingTask[..., Any]):
    """A materializing task whose assets come from `plan`, called with the task arguments it names."""

    def __init__(self, fn: Callable[..., Any], *, plan: Plan, **task_kwargs: Any) -> None:
        super().__init__(fn=fn, assets=[], **task_kwargs)
        self.plan = plan

    def with_options(self, assets: Any = None, **task_kwargs: Any) -> MaterializingTask[..., Any]:
        """Prefect's copy with changed options; it still plans its assets per call unless `assets` fixes them."""
        configured = super().with_options(assets=assets, **task_kwargs)
        if assets is not None:
            return configured
        # Prefect's with_options builds the base class with every option copied; only the plan is ours to carry.
        configured.__class__ = type(self)
        configured.plan = self.plan  # type: ignore[attr-defined]
        return configured

    def for_call(self, *args: Any, **kwargs: Any) -> tuple[MaterializingTask[..., Any], dict[str, Any]]:
        """The task to run for these arguments (assets, upstream and tool from the plan) and its quoted arguments."""
        arguments = inspect.signature(self.fn).bind(*args, **kwargs)
        arguments.apply_defaults()
        wanted = inspect.signature(self.plan).parameters
        planned = self.plan(**{name: arguments.arguments[name] for name in wanted})
        task = MaterializingTask.with_options(self, assets=list(planned.assets), asset_deps=list(planned.upstream))
        task.materialized_by = planned.by
        untraced = {
            name: value if isinstance(value, PrefectFuture | State) else quote(value)
            for name, value in arguments.arguments.items()
        }
        return task, untraced

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task now, materializing what the plan says for these arguments."""
        options = {name: kwargs.pop(name) for name in _CALL_OPTIONS if name in kwargs}
        task, arguments = self.for_call(*args, **kwargs)
        return task(**arguments, **options)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the task to the flow's task runner, materializing what the plan says for these arguments."""
        options = {name: kwargs.pop(name) for name in _CALL_OPTIONS if name in kwargs}
        task, arguments = self.for_call(*args, **kwargs)
        return task.submit(**arguments, **options)

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: one mapped run would record one item's assets for every item."""
        raise TypeError(f"task {self.name!r} plans its assets per call: call or submit it once per item")


def materialize_from(plan: Plan, **task_kwargs: Any) -> Callable[[Callable[..., Any]], PlannedMaterializingTask]:
    """Like `@task(...)`, but the task materializes what `plan(<the task arguments it names>)` returns."""

    def decorator(fn: Callable[..., Any]) -> PlannedMaterializingTask:
        return PlannedMaterializingTask(fn, plan=plan, **task_kwargs)

    return decorator
