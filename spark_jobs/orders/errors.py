"""The job's two verdicts that no retry can change, and how it reports them.

Exit codes (every launcher maps them the same way, ecom_pipeline/transform/process.py): 0 success, 2 bad
configuration (one line `orders_job: config error: --arg: ...` on stderr), 3 a data-integrity failure (one line
`orders_job: data integrity error: ...`: the output does not add up, and the same input gives the same answer);
anything else is an unexpected failure (exit 1 through the traceback), which a retry may cure. On Glue the same
one-line messages are the run's ErrorMessage.
"""

from __future__ import annotations

EXIT_CONFIG_ERROR = 2
EXIT_DATA_INTEGRITY_ERROR = 3
CONFIG_ERROR_MARKER = "orders_job: config error: "
DATA_INTEGRITY_ERROR_MARKER = "orders_job: data integrity error: "


class JobDataIntegrityError(RuntimeError):
    """The job's outcome does not add up (a join fan-out, a lost row): never published, never retried."""


class JobConfigError(ValueError):
    """A bad argument or missing input: retrying cannot help. The message names the argument."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        super().__init__(f"--{argument}: {problem}")
