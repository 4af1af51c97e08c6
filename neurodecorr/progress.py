"""Progress bars for long jobs: shown on a terminal (stderr), silent otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(total: int, description: str) -> Iterator:
    """Yield ``advance(n=1, description=None)``; draws a bar on stderr when it is a terminal."""
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1, description: str | None = None) -> None:
            progress.update(task, advance=n, description=description)

        yield advance
