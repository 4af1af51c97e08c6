"""One sweep as ``neurodecorr sweep`` runs it: check the options, run the spec, summarise, plot."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs
from neurodecorr.sweep.plot import plot_metric
from neurodecorr.sweep.results import read_rows
from neurodecorr.sweep.runner import run_sweep
from neurodecorr.sweep.spec import SweepSpec, load_spec


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def sweep_spec_file(spec_path: str | os.PathLike, out: str | os.PathLike,
                    workers: int | None = None, scheduler: str | None = None,
                    timeout_s: float | None = None, plot_path: str | None = None,
                    plot_x: str | None = None, plot_y: str | None = None,
                    plot_group: str | None = None,
                    say: Callable[[str], None] = _stderr) -> int:
    """Run every point of a spec file into ``out`` and optionally plot a metric.

    Parameters
    ----------
    spec_path, out : path-like
        The TOML spec (:func:`~neurodecorr.sweep.spec.load_spec`) and the results CSV
        (resumed when it exists).
    workers, scheduler, timeout_s
        As :func:`~neurodecorr.sweep.runner.run_sweep`; ``workers`` only without ``scheduler``.
    plot_path : str, optional
        PNG of ``plot_y`` (a column of the results) against ``plot_x`` (default: the first
        swept argument), one line per value of ``plot_group``.
    say : callable
        Receives the summary lines (default: printed on stderr).

    Returns
    -------
    int
        1 when any point of the spec is recorded as failed, else 0.

    Raises
    ------
    NeurodecorrError
        A bad option, spec or output path, before any point runs.
    """
    if workers is not None and workers < 1:
        raise NeurodecorrError(f"--workers: must be at least 1, got {workers}")
    if workers is not None and scheduler is not None:
        raise NeurodecorrError("--workers: sizes the local cluster only; leave it out with "
                               "--scheduler (the cluster has its own workers)")
    if timeout_s is not None and not timeout_s > 0:
        raise NeurodecorrError(f"--timeout-s: must be positive, got {timeout_s}")
    spec = load_spec(spec_path)
    check_outputs({"--out": out, "--plot": plot_path}, inputs={"SPEC.toml": spec_path})
    plot_x, plot_group = _plot_axes(spec, spec_path, plot_path, plot_x, plot_y, plot_group)
    summary = run_sweep(spec, out, workers=workers, scheduler=scheduler, timeout_s=timeout_s)
    columns, rows = read_rows(out)
    keys = {p.key for p in spec.points()}
    mine = [r for r in rows if r["key"] in keys]
    failed = sum(r["status"] != "ok" for r in mine)
    say(f"sweep: {len(mine)} of {summary.total} points recorded, {len(mine) - failed} ok, "
        f"{failed} failed (ran {summary.ran}, skipped {summary.skipped} already done); "
        f"results in {out}")
    if plot_path is not None:
        plot_metric(mine, columns, plot_x, plot_y, plot_path, group=plot_group)
        say(f"sweep: figure in {plot_path}")
    return 1 if failed else 0


def _plot_axes(spec: SweepSpec, spec_path, plot_path, plot_x, plot_y, plot_group
               ) -> tuple[str | None, str | None]:
    """The plot's x and group arguments as columns, checked against the spec."""
    if plot_path is None:
        for option, value in (("--plot-x", plot_x), ("--plot-y", plot_y),
                              ("--plot-group", plot_group)):
            if value is not None:
                raise NeurodecorrError(f"{option}: given without --plot PNG")
        return plot_x, plot_group
    if plot_y is None:
        raise NeurodecorrError("--plot: needs --plot-y METRIC (a column of the results)")
    plot_x = (plot_x or (spec.swept or spec.names)[0]).replace("-", "_")
    plot_group = plot_group.replace("-", "_") if plot_group else None
    for option, name in (("--plot-x", plot_x), ("--plot-group", plot_group)):
        if name is not None and name not in spec.names:
            raise NeurodecorrError(f"{option}: '{name}' is not an argument of {spec_path}; "
                                   f"arguments are {', '.join(spec.names)}")
    return plot_x, plot_group
