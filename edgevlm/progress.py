"""Progress bars and consoles shared by the CLI and long-running API calls (rich)."""
from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def progress_bar(transient: bool = False):
    """A rich Progress for tasks counted in steps; writes to stderr so stdout stays clean for data."""
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=transient,
    )
    with progress:
        yield progress
