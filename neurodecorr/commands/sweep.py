"""``neurodecorr sweep``: run a parameter sweep of a command on Dask, resumably."""

from __future__ import annotations

import sys

import click

from neurodecorr.sweep.session import sweep_spec_file


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
    return sweep_spec_file(spec_path, out, workers=workers, scheduler=scheduler,
                           timeout_s=timeout_s, plot_path=plot_path, plot_x=plot_x,
                           plot_y=plot_y, plot_group=plot_group,
                           say=lambda line: print(line, file=sys.stderr))
