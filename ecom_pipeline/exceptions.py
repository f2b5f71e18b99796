"""The pipeline's errors: one base class, one subclass per stage, each with a message that names the place."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(PipelineError):
    """Settings or arguments that cannot work (unknown name, missing value)."""


class RuntimeStartError(PipelineError):
    """A local emulator could not start (missing Java, port in use, ...)."""


class SourceError(PipelineError):
    """The source API answered with something we cannot use; names resource, page and field."""

    def __init__(self, resource: str, page: int | None, field: str | None, problem: str) -> None:
        self.resource, self.page, self.field, self.problem = resource, page, field, problem
        where = f"resource '{resource}'"
        if page is not None:
            where += f", page {page}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class TransientSourceError(PipelineError):
    """A failure worth retrying: connection reset, timeout, 429, 5xx, truncated body."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class LandingError(PipelineError):
    """Writing the raw zone failed."""


class TransformError(PipelineError):
    """The Spark/Glue job failed; `transient` says whether a retry can help."""

    def __init__(self, message: str, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class WarehouseError(PipelineError):
    """A Snowflake statement or load failed."""


class ReconciliationError(WarehouseError):
    """Rows or revenue loaded differ from what the curated zone holds."""


class StageError(PipelineError):
    """A pipeline stage failed for good (after its retries); the message starts with the stage's name."""

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        super().__init__(f"stage {stage} failed: {error}")
