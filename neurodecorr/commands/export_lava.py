"""``neurodecorr export-lava``: write a network as a netx-style Lava exchange file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs, json_bytes, npz_bytes, write_outputs
from neurodecorr.learning.checkpoint import checkpoint_dataset

EXCHANGE = "network.h5"
CHECKPOINT = "network.npz"
MANIFEST = "manifest.json"


@click.command(name="export-lava")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for network.h5, network.npz and manifest.json (created if missing; "
                   "its parent must exist).")
@click.option("--precision", default="float", show_default=True, help="float or fixed.")
@click.option("--mapping", default="layer", show_default=True,
              help="layer (one process per layer) or loihi (integrator + recurrent Dense).")
@click.option("--dataset", default=None,
              help="Data set whose training inputs set the fixed-point range "
                   "(default: the data set in the checkpoint's header).")
@click.option("--tol", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=1e-9,
              show_default=True,
              help="Contraction the lateral dynamics reach per sample.")
def command(checkpoint, out_dir, precision, mapping, dataset, tol) -> None:
    """Export CHECKPOINT (a network .npz) to Lava processes."""
    from neurodecorr.lava.exchange import export_bytes
    from neurodecorr.lava.export import export_network

    out = Path(out_dir)
    check_outputs({f"--out {name}": out / name for name in (EXCHANGE, CHECKPOINT, MANIFEST)},
                  folders={"--out": out}, inputs={"CHECKPOINT": checkpoint})
    network = Network.load(checkpoint)
    calibration = None
    dataset = dataset or checkpoint_dataset(checkpoint)
    if precision == "fixed":
        if dataset is None:
            raise NeurodecorrError("--dataset: fixed-point export needs a data set for its range")
        from neurodecorr.data import load_dataset

        calibration = load_dataset(dataset).x_train
        if calibration.shape[1] != network.layers[0].n_in:
            raise NeurodecorrError(f"--dataset: {dataset} has {calibration.shape[1]} features, "
                                   f"the network takes {network.layers[0].n_in}")
    export = export_network(network, precision, mapping, calibration, tol)
    h5, npz = export_bytes(export), npz_bytes(network.to_arrays())
    manifest = {
        "kind": "neurodecorr.lava-export", "version": 2,
        "source_checkpoint": str(checkpoint), "precision": precision, "mapping": mapping,
        "steps_per_sample": export.steps_per_sample, "frac_bits": export.frac_bits,
        "stage_frac_bits": [int(la["frac_bits"]) for la in export.layers if "frac_bits" in la],
        "latency_steps": export.latency, "sizes": network.sizes, "dataset": dataset,
        "layers": [layer["type"] for layer in export.layers],
        "files": {EXCHANGE: hashlib.sha256(h5).hexdigest(),
                  CHECKPOINT: hashlib.sha256(npz).hexdigest()},
    }
    write_outputs({out / EXCHANGE: h5, out / CHECKPOINT: npz, out / MANIFEST: json_bytes(manifest)},
                  make_folders=[out])
    click.echo(f"wrote {out / EXCHANGE} ({precision}, {mapping} mapping, "
               f"{export.steps_per_sample} steps per sample)")
