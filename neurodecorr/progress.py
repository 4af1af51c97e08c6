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


def _shrunk_warning(row: dict) -> str | None:
    """A warning when the decorrelators' η was shrunk in this epoch (``decor_eta_shrunk``)."""
    shrunk = int(row.get("decor_eta_shrunk", 0) or 0)
    if shrunk <= 0:
        return None
    return (f"warning: epoch {row['epoch']}: η of the decorrelators shrunk in {shrunk} steps "
            f"(η·<|x|²> reached 1; those steps ran with η = 0.5/<|x|²>); a smaller --decor-lr "
            f"avoids it")


@contextmanager
def epoch_bars(enabled: bool = True) -> Iterator:
    """Yield training callbacks (see :class:`~neurodecorr.learning.trainer.EpochCallbacks`).

    On a terminal (stderr), two bars: one over epochs, one over the current epoch's batches.
    Off a terminal (a batch job, a pipe) or with ``enabled=False``, one line per finished epoch
    on stderr instead, so that a log shows how far a long run got. Either way, an epoch in which
    the decorrelators' η was shrunk adds one warning line on stderr with the count.
    """
    from neurodecorr.learning.trainer import EpochCallbacks

    if not (enabled and sys.stderr.isatty()):
        total = {}

        def on_start(done: int, epochs: int) -> None:
            total["epochs"] = epochs

        def print_epoch(row: dict) -> None:
            print(f"epoch {row['epoch']}/{total.get('epochs', '?')}: {_epoch_line(row)}",
                  file=sys.stderr, flush=True)
            warning = _shrunk_warning(row)
            if warning:
                print(warning, file=sys.stderr, flush=True)

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
            warning = _shrunk_warning(row)
            if warning:  # printed above the bars, which stay at the bottom
                progress.console.print(warning, markup=False, highlight=False)
            progress.reset(tasks["batches"], description=f"epoch {row['epoch'] + 1}")

        yield EpochCallbacks(on_batch=on_batch, on_epoch=on_epoch, on_start=on_start)
