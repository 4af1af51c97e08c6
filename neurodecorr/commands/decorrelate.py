"""``neurodecorr decorrelate``: learn M (linear form) or A = M⁻¹ (recurrent form) from data."""

from __future__ import annotations

import sys
import time

import click
import numpy as np

from neurodecorr.core.fit import FORMS, fit_decorrelator
from neurodecorr.core.metrics import decorrelation_report
from neurodecorr.core.rules import RULES, DecorrelationConfig
from neurodecorr.io import check_outputs, json_bytes, load_array, npy_bytes, write_outputs
from neurodecorr.progress import progress_bar
from neurodecorr.provenance import with_versions


@click.command(name="decorrelate")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="Samples as a 2-D .npy array, one sample per row.")
@click.option("--rule", type=click.Choice(RULES), default="ahmad", show_default=True)
@click.option("--form", type=click.Choice(FORMS), default="linear", show_default=True,
              help="linear: learn M; recurrent: learn A = M⁻¹ with the local rule.")
@click.option("--eta", type=float, default=5e-3, show_default=True,
              help="Learning rate η; eta·<|x|²> must stay below 1.")
@click.option("--kappa", type=float, default=0.5, show_default=True, help="κ of the dbp rule.")
@click.option("--batch-fraction", type=float, default=1.0, show_default=True,
              help="Fraction of each batch used to estimate the correlations.")
@click.option("--centre/--no-centre", default=False, show_default=True,
              help="Centre inputs with a running mean before estimating correlations.")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the shuffling.")
@click.option("--out-matrix", required=True, type=click.Path(dir_okay=False),
              help="Where to save M (linear) or A (recurrent) as .npy.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the configuration and metrics before and after as JSON.")
def command(input_path, rule, form, eta, kappa, batch_fraction, centre, epochs, batch_size, seed,
            out_matrix, json_path) -> None:
    """Learn a decorrelating matrix from the rows of X.npy.

    The linear form learns M with M ← g (I − η G) M; the recurrent form learns A = M⁻¹ with the
    node-local rule A ← g⁻¹ (A + η A G) (Ahmad 2024). Same seed, same bytes out.
    """
    check_outputs({"--out-matrix": out_matrix, "--json": json_path},
                  inputs={"--input": input_path})
    X = load_array(input_path, "--input", ndim=(2,)).astype(np.float64)
    config = DecorrelationConfig(rule=rule, eta=eta, kappa=kappa, batch_fraction=batch_fraction,
                                 centre=centre)
    start = time.perf_counter()
    with progress_bar(epochs * X.shape[0], f"decorrelate ({form}, {rule})") as advance:
        result = fit_decorrelator(X, config, form=form, epochs=epochs, batch_size=batch_size,
                                  seed=seed, progress=advance)
    wall_s = time.perf_counter() - start
    report = decorrelation_report(X, result.transform(X))
    files = {out_matrix: npy_bytes(result.matrix)}
    if json_path:
        files[json_path] = json_bytes(with_versions({
            "command": "decorrelate", "input": str(input_path), "form": form,
            "matrix": "M" if form == "linear" else "A", "n": X.shape[1], "samples": X.shape[0],
            "epochs": epochs, "batch_size": batch_size, "seed": seed, "steps": result.steps,
            "config": config.to_dict(), "metrics": report,
        }))
    write_outputs(files)
    print(f"{form} {rule}: off-diagonal correlation RMS {report['offdiag_corr_rms_before']:.4f}"
          f" -> {report['offdiag_corr_rms_after']:.4f}, power ratio {report['power_ratio']:.4f}"
          f" ({result.steps} steps, {wall_s:.2f} s)", file=sys.stderr)
