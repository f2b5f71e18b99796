"""The pipeline's errors: one base class, one subclass per stage, each with a message that names the place.

Every error says whether a retry can help (`transient`), and every layer follows what it says: the HTTP client,
the task retry conditions, the launchers and the Spark job's exit codes (`ecom_pipeline/retry_policy.py` names
who retries what, and how often). An error raised after its own layer spent its retry budget is not transient,
so an outer layer never multiplies that budget.

| error | transient | why |
|---|---|---|
| ConfigError, SourceError, ContractError | no | the same settings, request or answer fail the same way again |
| DataIntegrityError (ReconciliationError, DataQualityError, job balance) | no | the same input gives the same answer |
| SourceUnavailableError | no | the HTTP client already spent the page's retry budget |
| TransientSourceError | yes | one attempt failed (reset, timeout, 429, 5xx); the client retries it |
| TransformError, WarehouseError, LandingError | per instance | the raiser knows (Glue capacity: yes; a bad job: no) |
| ReprocessError | no | raised after every date's stages spent their own retries |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecom_pipeline.reprocess import ReprocessSummary


class PipelineError(Exception):
    """Base class of every error this project raises on purpose; `transient` says whether a retry can help."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        if transient is not None:
            self.transient = transient
        super().__init__(message)


class ConfigError(PipelineError):
    """Settings or arguments that cannot work (unknown name, missing value)."""


class RuntimeStartError(PipelineError):
    """A local emulator could not start (missing Java, port in use, ...)."""


class ContractError(PipelineError):
    """A caller broke an interface's contract (e.g. a partition that is not a date); names the value at fault."""


class DataIntegrityError(PipelineError):
    """The data does not add up (rows or revenue lost or doubled); a re-run of the same input gives the same answer."""


class DataQualityError(DataIntegrityError):
    """A data-quality check breached its fail threshold (ecom_pipeline/quality.py); names check, resource, figure."""


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
    """One failed attempt worth retrying: connection reset, timeout, 429, 5xx, truncated body."""

    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class SourceUnavailableError(PipelineError):
    """The source stayed unreachable or failing through the page's whole retry budget (or was never reachable)."""


class LandingError(PipelineError):
    """Writing the raw zone failed."""


class TransformError(PipelineError):
    """The Spark/Glue job failed; `transient` says whether a retry can help."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message, transient=transient)


class WarehouseError(PipelineError):
    """A Snowflake statement or load failed."""


class ReconciliationError(WarehouseError, DataIntegrityError):
    """Rows or revenue loaded differ from what the curated zone holds."""

    transient = False


class StageError(PipelineError):
    """A pipeline stage failed for good (after its retries); the message starts with the stage's name."""

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        super().__init__(f"stage {stage} failed: {error}", transient=is_transient(error))


class ReprocessError(PipelineError):
    """Dates of a reprocess failed for good (the others were reprocessed); names each date with its error.

    `summary` holds every date's outcome, for the caller to print. Not transient: each stage already retried.
    """

    def __init__(self, message: str, summary: ReprocessSummary) -> None:
        self.summary = summary
        super().__init__(message, transient=False)


def is_transient(error: BaseException | None) -> bool:
    """Whether a retry can help: only our own errors that say so. Anything else reaching a task was either
    retried by its own client already (boto3, the Snowflake connector) or is a bug."""
    return isinstance(error, PipelineError) and error.transient
