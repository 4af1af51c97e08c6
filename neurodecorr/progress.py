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


def _epoch_line(row: dict) -> str:
    return (f"train {100 * row['train_acc']:.1f}%  test {100 * row['test_acc']:.1f}%  "
            f"loss {row['train_loss']:.3f}")


@contextmanager
def epoch_bars(enabled: bool = True) -> Iterator:
    """Yield training callbacks (see :class:`~neurodecorr.learning.trainer.EpochCallbacks`).

    On a terminal (stderr), two bars: one over epochs, one over the current epoch's batches.
    Off a terminal (a batch job, a pipe) or with ``enabled=False``, one line per finished epoch
    on stderr instead, so that a log shows how far a long run got.
    """
    from neurodecorr.learning.trainer import EpochCallbacks

    if not (enabled and sys.stderr.isatty()):
        total = {}

        def on_start(done: int, epochs: int) -> None:
            total["epochs"] = epochs

        def print_epoch(row: dict) -> None:
            print(f"epoch {row['epoch']}/{total.get('epochs', '?')}: {_epoch_line(row)}",
                  file=sys.stderr, flush=True)

        yield EpochCallbacks(on_epoch=print_epoch, on_start=on_start)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                  console=Console(stderr=True), transient=True) as progress:
        tasks = {}

        def on_start(done: int, total: int) -> None:
            tasks["epochs"] = progress.add_task("epochs", total=total, completed=done, info="")
            tasks["batches"] = progress.add_task(f"epoch {done + 1}", total=None, info="")

        def on_batch(k: int, n: int) -> None:
            progress.update(tasks["batches"], completed=k, total=n)

        def on_epoch(row: dict) -> None:
            progress.update(tasks["epochs"], completed=row["epoch"], info=_epoch_line(row))
            progress.reset(tasks["batches"], description=f"epoch {row['epoch'] + 1}")

        yield EpochCallbacks(on_batch=on_batch, on_epoch=on_epoch, on_start=on_start)
