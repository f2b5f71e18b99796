"""What `ecom-pipeline`'s terminal never shows: lines that tell a user nothing they can act on.

The stage lines and the summary say what a run did; a Python repr, a JVM warning, a library's chatter or Prefect's
own trouble reaching its API only bury them.
"""

from __future__ import annotations

import re

NOISE = {
    "a Python repr": re.compile(r"\{'|\[datetime\.|Decimal\("),
    "a JVM warning": re.compile(r"\bWARN\b|S3AInstrumentation|MetricsConfig"),
    "matplotlib's font cache": re.compile(r"generated new fontManager"),
    "Prefect's own error": re.compile(r"Error logging to API|All connection attempts failed"),
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "a list of dates": re.compile(r"(\d{4}-\d{2}-\d{2}, ){3}\d{4}-\d{2}-\d{2}"),  # a range reads `first..last (n)`
}


def noise_lines(output: str) -> list[str]:
    """Each line of `output` that shows any NOISE, prefixed with what it shows."""
    return [f"{what}: {line}" for line in output.splitlines() for what, seen in NOISE.items() if seen.search(line)]
