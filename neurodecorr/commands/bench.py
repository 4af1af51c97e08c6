"""``neurodecorr bench``: run a benchmark scenario and print, save and plot its results."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from neurodecorr.bench import load_scenario, run_scenario
from neurodecorr.bench.plots import render_figures
from neurodecorr.bench.report import print_table
from neurodecorr.io import check_outputs, json_bytes, write_outputs
from neurodecorr.progress import progress_bar
from neurodecorr.terminal import terminal_width


@click.command(name="bench")
@click.option("--scenario", default="quick", show_default=True,
              help="A shipped scenario name or a path to a TOML file.")
@click.option("--reference", type=click.Choice(["auto", "cuda", "cpu"]), default="auto",
              show_default=True, help="Where the exact torch reference runs.")
@click.option("--repeats", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Timing repeats per measurement (the fastest is kept).")
@click.option("--blas-threads", type=click.IntRange(0, 1024), default=1, show_default=True,
              help="BLAS threads for every timing; 0 keeps the library's default.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write all results as JSON.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNG figures into this folder (created if missing).")
def command(scenario, reference, repeats, blas_threads, json_path, plot_dir) -> None:
    """Benchmark the simulator against the exact reference: accuracy and speed."""
    spec = load_scenario(scenario)
    # outputs are checked before a long run, not after it
    check_outputs({"--json": json_path}, folders={"--plot": plot_dir})
    with progress_bar(len(spec.cases), f"bench {spec.name}") as advance:
        result = run_scenario(spec, reference=reference, repeats=repeats,
                              blas_threads=blas_threads or None,
                              on_case=lambda done, name: advance(int(done > 0), name))
    files = {json_path: json_bytes(result)} if json_path else {}
    if plot_dir:
        files.update(render_figures(result, plot_dir))
    write_outputs(files, make_folders=[plot_dir] if plot_dir else [])
    print_table(result, Console(file=sys.stdout, width=terminal_width()))
