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


@contextmanager
def epoch_bars(enabled: bool = True) -> Iterator:
    """Yield training callbacks that draw two bars on stderr (a terminal only): one over
    epochs, one over the current epoch's batches (see
    :class:`~neurodecorr.learning.trainer.EpochCallbacks`)."""
    from neurodecorr.learning.trainer import EpochCallbacks

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                  console=Console(stderr=True), transient=True,
                  disable=not (enabled and sys.stderr.isatty())) as progress:
        tasks = {}

        def on_start(done: int, total: int) -> None:
            tasks["epochs"] = progress.add_task("epochs", total=total, completed=done, info="")
            tasks["batches"] = progress.add_task(f"epoch {done + 1}", total=None, info="")

        def on_batch(k: int, n: int) -> None:
            progress.update(tasks["batches"], completed=k, total=n)

        def on_epoch(row: dict) -> None:
            info = (f"train {100 * row['train_acc']:.1f}%  test {100 * row['test_acc']:.1f}%  "
                    f"loss {row['train_loss']:.3f}")
            progress.update(tasks["epochs"], completed=row["epoch"], info=info)
            progress.reset(tasks["batches"], description=f"epoch {row['epoch'] + 1}")

        yield EpochCallbacks(on_batch=on_batch, on_epoch=on_epoch, on_start=on_start)
