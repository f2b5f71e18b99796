"""The terminal every `ecom-pipeline` command prints to, and its one way of ending on an error."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()


def fail(message: str) -> typer.Exit:
    """Print `error: <message>` and return the exit (code 1) for the caller to raise."""
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False, markup=True)
    return typer.Exit(code=1)
