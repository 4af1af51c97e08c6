"""``neurodecorr export-lava``: write a network as a Lava bundle (see :mod:`.lava.bundle`)."""

from __future__ import annotations

from pathlib import Path

import click

from neurodecorr.data import LOADERS
from neurodecorr.lava.export import MAPPINGS, PRECISIONS


@click.command(name="export-lava")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for network.h5, network.npz and manifest.json (created if missing; "
                   "its parent must exist).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float", show_default=True)
@click.option("--mapping", type=click.Choice(MAPPINGS), default="loihi", show_default=True,
              help="loihi (integrator neurons + recurrent Dense, Loihi 2's structure) or layer "
                   "(one process per layer: a CPU-only emulation).")
@click.option("--dataset", type=click.Choice(sorted(LOADERS)), default=None,
              help="Data set whose training inputs set the fixed-point range "
                   "(default: the data set in the checkpoint's header).")
@click.option("--tol", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=1e-9,
              show_default=True,
              help="Contraction the lateral dynamics reach per sample.")
def command(checkpoint, out_dir, precision, mapping, dataset, tol) -> None:
    """Export CHECKPOINT (a network .npz) to Lava processes."""
    from neurodecorr.io import check_outputs
    from neurodecorr.lava.bundle import EXCHANGE, FILES, export_bundle

    out = Path(out_dir)
    check_outputs({f"--out {name}": out / name for name in FILES},
                  folders={"--out": out}, inputs={"CHECKPOINT": checkpoint})
    manifest = export_bundle(checkpoint, out_dir, precision=precision, mapping=mapping,
                             dataset=dataset, tol=tol)
    click.echo(f"wrote {out_dir}/{EXCHANGE} ({precision}, {mapping} mapping, "
               f"steps_per_sample = {manifest['steps_per_sample']})")
