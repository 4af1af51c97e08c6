"""Running a sweep on Dask's distributed scheduler.

By default a local cluster of ``workers`` processes (one thread each) is started and closed
around the sweep; with ``scheduler`` the points go to an existing cluster instead. Points are
submitted together and collected with :func:`distributed.as_completed`, each row written to the
results as it arrives (:class:`~neurodecorr.sweep.results.ResultsFile`).

Resume: a point whose key already has an ``ok`` row in the results is skipped. A point recorded
with an error is run again and its row replaced: failures are often passing (a timeout, a lost
machine, a bug since fixed), and a point that fails for good costs one more short run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from neurodecorr.errors import NeurodecorrError
from neurodecorr.sweep.point import run_point
from neurodecorr.sweep.results import ResultsFile
from neurodecorr.sweep.spec import RESERVED_COLUMNS, Point, SweepSpec, text_of
from neurodecorr.sweep.targets import target_modules

#: How long to wait for an existing scheduler to answer.
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class SweepSummary:
    """What one invocation did: points in the spec, skipped as done, run, and failed."""

    total: int
    skipped: int
    ran: int
    failed: int


def columns(spec: SweepSpec) -> list[str]:
    """The fixed leading columns of the results of ``spec``."""
    key, status, command, elapsed = RESERVED_COLUMNS
    return [key, status, command, *spec.names, elapsed]


def row_of(point: Point, result: dict[str, object], reserved: set[str]) -> dict[str, object]:
    """The CSV row of a finished point.

    A metric named like a parameter or a fixed column is dropped when it only repeats the
    point's value (commands echo their arguments) and kept as ``result.<name>`` otherwise.
    """
    row: dict[str, object] = {"key": point.key, "status": result["status"],
                              "command": point.command}
    row.update(point.params)
    row["elapsed_s"] = result["elapsed_s"]
    for name, value in result["metrics"].items():
        if name in reserved:
            if text_of(value) == text_of(row[name]):
                continue
            name = f"result.{name}"
        row[name] = value
    return row


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator:
    """A Dask client: on an existing scheduler, or on a local cluster closed afterwards."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise NeurodecorrError(f"--scheduler: cannot connect to {scheduler}: "
                                   f"{' '.join(str(exc).split())}") from None
        with client:
            yield client
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def run_sweep(spec: SweepSpec, out: str | os.PathLike, workers: int | None = None,
              scheduler: str | None = None, timeout_s: float | None = None,
              console: Console | None = None) -> SweepSummary:
    """Run every point of ``spec`` not yet done in ``out``; see the module docstring.

    Parameters
    ----------
    spec : SweepSpec
    out : path-like
        The results CSV (created, or resumed when it exists).
    workers : int, optional
        Worker processes of the local cluster (default: one per CPU). Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    timeout_s : float, optional
        Per-point limit; a point still running then is killed and recorded as an error.
    console : rich.console.Console, optional
        Where progress goes (default: stderr).
    """
    console = console or Console(stderr=True)
    results = ResultsFile(out, columns(spec))
    points = spec.points()
    todo = [p for p in points if results.status(p.key) != "ok"]
    skipped = len(points) - len(todo)
    if skipped:
        console.print(f"sweep: {skipped} of {len(points)} points already done in {out}; "
                      "skipping them", markup=False, soft_wrap=True)
    if not todo:
        return SweepSummary(len(points), skipped, 0, 0)
    reserved = set(columns(spec))
    failed = 0
    live = console.is_terminal
    with dask_client(workers, scheduler) as client, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            disable=not live) as progress:
        from distributed import as_completed

        results.start()
        task = progress.add_task(_describe(spec, 0), total=len(points), completed=skipped)
        preload = target_modules()
        futures = {client.submit(run_point, p, str(spec.folder), timeout_s, preload, pure=False): p
                   for p in todo}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                point = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # the worker itself was lost, not the command
                    result = {"status": "error: " + " ".join(f"{type(exc).__name__}: {exc}"
                                                             .split()),
                              "elapsed_s": float("nan"), "metrics": {}}
                results.add(row_of(point, result, reserved))
                failed += result["status"] != "ok"
                progress.update(task, advance=1, description=_describe(spec, failed))
                if not live or result["status"] != "ok":
                    progress.console.print(_line(skipped + done, len(points), spec, point, result),
                                           markup=False, highlight=False, soft_wrap=True)
        except BaseException:
            client.cancel(list(futures))
            console.print(f"sweep: stopped; {len(results.rows)} rows are in {out}; run the same "
                          "command again to resume", markup=False, soft_wrap=True)
            raise
    return SweepSummary(len(points), skipped, len(todo), failed)


def _describe(spec: SweepSpec, failed: int) -> str:
    return f"sweep {spec.command}" + (f" ({failed} failed)" if failed else "")


def _line(i: int, total: int, spec: SweepSpec, point: Point, result: dict[str, object]) -> str:
    swept = " ".join(f"{k}={text_of(point.params[k])}" for k in spec.swept)
    return f"[{i}/{total}] {point.key} {swept}: {result['status']} ({result['elapsed_s']:.2f} s)"
