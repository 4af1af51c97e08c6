"""``neurodecorr lava-run``: run an exported network in Lava and compare with the reference."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from neurodecorr.commands.export_lava import CHECKPOINT, EXCHANGE, MANIFEST
from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs, write_json


def _check_dir(folder: Path) -> None:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise NeurodecorrError(f"{folder}: no {MANIFEST}; run `neurodecorr export-lava` first")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError:
        raise NeurodecorrError(f"{manifest_path}: not valid JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise NeurodecorrError(f"{manifest_path}: not a neurodecorr export manifest")
    for name, digest in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise NeurodecorrError(f"{path}: missing (listed in {MANIFEST})")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise NeurodecorrError(f"{path}: does not match its checksum in {MANIFEST}")


@click.command(name="lava-run")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--dataset", required=True, help="Data set whose test samples are run.")
@click.option("--samples", type=int, default=200, show_default=True,
              help="Number of test samples (the first N).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the comparison as JSON.")
def command(folder, dataset, samples, json_path) -> None:
    """Run the export in FOLDER in Lava's CPU simulation and compare with the torch reference."""
    from rich.progress import Progress

    from neurodecorr.data import load_dataset
    from neurodecorr.lava.compat import import_lava
    from neurodecorr.lava.evaluate import evaluate
    from neurodecorr.lava.exchange import load_export

    import_lava()  # fail fast, before loading data, when lava-nc is missing
    folder = Path(folder)
    _check_dir(folder)
    check_outputs({"--json": json_path})
    if samples < 1:
        raise NeurodecorrError(f"--samples: must be at least 1, got {samples}")
    export = load_export(folder / EXCHANGE)
    network = Network.load(folder / CHECKPOINT)
    X = load_dataset(dataset).x_test
    if X.shape[1] != export.n_in:
        raise NeurodecorrError(f"--dataset: {dataset} has {X.shape[1]} features, the exported "
                               f"network takes {export.n_in}")
    if samples > X.shape[0]:
        raise NeurodecorrError(f"--samples: {dataset} has only {X.shape[0]} test samples")
    X = X[:samples]
    total = samples * export.steps_per_sample + export.latency
    with Progress(transient=True) as bar:
        task = bar.add_task("Lava steps", total=total)
        result = evaluate(network, export, X, progress=lambda n: bar.advance(task, n))
    result["dataset"] = dataset
    if json_path:
        write_json(json_path, result)
    line = (f"{result['samples']} samples, {result['steps']} Lava steps in "
            f"{result['wall_s']:.2f} s: max |err| {result['max_abs_err']:.3g}, "
            f"rel err {result['rel_err']:.3g}, argmax agreement "
            f"{100 * result['argmax_agreement']:.1f} %")
    if "predicted_rms_err" in result:
        line += (f"; rms err {result['rms_err']:.3g} (predicted from bit widths "
                 f"{result['predicted_rms_err']:.3g})")
    click.echo(line)
