"""``neurodecorr sweep``: run a parameter sweep of a command on Dask, resumably."""

from __future__ import annotations

import sys

import click

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs
from neurodecorr.sweep import load_spec, plot_metric, read_rows, run_sweep


@click.command(name="sweep")
@click.argument("spec_path", metavar="SPEC.toml")
@click.option("--workers", type=int, default=None,
              help="Worker processes of the local cluster (default: one per CPU).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run on an existing Dask cluster instead of a local one.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Results CSV, one row per point; an existing one is resumed.")
@click.option("--timeout-s", type=float, default=None,
              help="Kill a point after this many seconds and record it as an error.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Draw --plot-y against --plot-x into this PNG.")
@click.option("--plot-x", default=None, help="Parameter on the x axis (default: the first swept).")
@click.option("--plot-y", default=None, help="Metric on the y axis (a column of the results).")
@click.option("--plot-group", default=None, help="Parameter whose values are drawn as lines.")
def command(spec_path, workers, scheduler, out, timeout_s, plot_path, plot_x, plot_y,
            plot_group) -> int:
    """Run every point of SPEC.toml and collect one row per point in --out.

    Lists in the spec's [sweep] table are swept (their Cartesian product); each point runs the
    real command on a Dask worker. A failed point is recorded with its error and does not stop
    the others; running again with the same --out skips the points already done and runs the
    failed ones again. Exits 1 when any point of the spec is recorded as failed.
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
    if plot_path is None:
        for option, value in (("--plot-x", plot_x), ("--plot-y", plot_y),
                              ("--plot-group", plot_group)):
            if value is not None:
                raise NeurodecorrError(f"{option}: given without --plot PNG")
    else:
        if plot_y is None:
            raise NeurodecorrError("--plot: needs --plot-y METRIC (a column of the results)")
        plot_x = (plot_x or (spec.swept or spec.names)[0]).replace("-", "_")
        plot_group = plot_group.replace("-", "_") if plot_group else None
        for option, name in (("--plot-x", plot_x), ("--plot-group", plot_group)):
            if name is not None and name not in spec.names:
                raise NeurodecorrError(f"{option}: '{name}' is not an argument of {spec_path}; "
                                       f"arguments are {', '.join(spec.names)}")
    summary = run_sweep(spec, out, workers=workers, scheduler=scheduler, timeout_s=timeout_s)
    columns, rows = read_rows(out)
    keys = {p.key for p in spec.points()}
    mine = [r for r in rows if r["key"] in keys]
    failed = sum(r["status"] != "ok" for r in mine)
    print(f"sweep: {len(mine)} of {summary.total} points recorded, {len(mine) - failed} ok, "
          f"{failed} failed (ran {summary.ran}, skipped {summary.skipped} already done); "
          f"results in {out}", file=sys.stderr)
    if plot_path is not None:
        plot_metric(mine, columns, plot_x, plot_y, plot_path, group=plot_group)
        print(f"sweep: figure in {plot_path}", file=sys.stderr)
    return 1 if failed else 0
