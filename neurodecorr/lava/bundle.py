"""The Lava bundle: the folder ``export-lava`` writes and ``lava-run`` reads.

A bundle holds three files:

- ``network.h5``: the exchange file (:mod:`neurodecorr.lava.exchange`), what Lava runs;
- ``network.npz``: the network it was exported from, for the reference comparison;
- ``manifest.json``: ``kind = "neurodecorr.lava-bundle"``, ``version``, the export settings,
  the package versions that wrote it and ``files``, the SHA-256 of the other two.

:func:`read_bundle` trusts nothing: the manifest's kind, version and every field it uses are
checked; the checksums are mandatory (``files`` must list exactly the two files); file names are
fixed and must be regular files inside the folder (no other name, no link out of it); the
exchange file is checked field by field (:func:`neurodecorr.lava.exchange.load_export`); and the
manifest, the exchange file and the network must agree.

The network (``network.npz``) is authoritative: the exchange file must hold what the exporter
writes for it, field by field (:func:`_check_network`). Floating point: weights and biases
equal; the lateral operators equal ``α·A`` (``A = M⁻¹`` from the network, to a relative
``1e-9``: the inverse may differ in its last bits on another machine) for the file's Euler step
``α``, which must lie in the stable range of :func:`neurodecorr.lava.settling.settling_plan`;
fixed point: the weight mantissas and row scales are :func:`neurodecorr.lava.fixed.quantise_rows`
of the network's weights, each stage's bias is its quantised drive, and the lateral mantissas,
leaks, exponents and steps are the exporter's quantisation of ``A`` (to one mantissa step). In
both, each layer's sub-steps (``n_sub``, ``n_settle``) must be at least what the settling plan
of that ``A`` needs for the file's ``tol``. Any problem is one
:class:`~neurodecorr.errors.NeurodecorrError` line naming the file and field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodecorr.core.network import Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import json_bytes, npz_bytes, write_outputs
from neurodecorr.lava import fixed
from neurodecorr.lava.exchange import export_bytes, load_export
from neurodecorr.lava.export import LavaExport, _fixed_lateral, export_network
from neurodecorr.lava.settling import settling_plan
from neurodecorr.provenance import package_versions

KIND = "neurodecorr.lava-bundle"
VERSION = 3
EXCHANGE = "network.h5"
NETWORK = "network.npz"
MANIFEST = "manifest.json"
FILES = (EXCHANGE, NETWORK, MANIFEST)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Bundle:
    """A checked bundle: the export Lava runs, the network it came from, and the manifest."""

    export: LavaExport
    network: Network
    manifest: dict
    folder: Path


def write_bundle(out_dir: str | os.PathLike, network: Network, export: LavaExport, *,
                 dataset: str | None, source: str) -> Path:
    """Write the three files of a bundle all-or-nothing into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    h5, npz = export_bytes(export), npz_bytes(network.to_arrays())
    manifest = {
        "kind": KIND, "version": VERSION, "source_checkpoint": source,
        "precision": export.precision, "mapping": export.mapping,
        "steps_per_sample": export.steps_per_sample, "latency_steps": export.latency,
        "frac_bits": export.frac_bits,
        **_scales(export),
        "sizes": network.sizes, "dataset": dataset,
        "layers": [layer["type"] for layer in export.layers],
        "versions": package_versions(),
        "files": {EXCHANGE: hashlib.sha256(h5).hexdigest(),
                  NETWORK: hashlib.sha256(npz).hexdigest()},
    }
    write_outputs({out / EXCHANGE: h5, out / NETWORK: npz, out / MANIFEST: json_bytes(manifest)},
                  make_folders=[out])
    return out


def _scales(export: LavaExport) -> dict:
    """The manifest's summary of the fixed-point scales (checked against the exchange file)."""
    lateral_max = [int(np.max(np.abs(la.get("weight_rec", la.get("lateral")))))
                   for la in export.layers
                   if la["type"] == "integrator" or la["type"] == "lateral" and la["decorrelate"]]
    return {"stage_frac_bits": [int(la["frac_bits"]) for la in export.layers
                                if "frac_bits" in la],
            "lateral_mantissa_max": lateral_max if export.precision == "fixed" else None}


def export_bundle(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *,
                  precision: str = "float", mapping: str = "loihi", dataset: str | None = None,
                  tol: float = 1e-9) -> dict:
    """Export the network in ``checkpoint`` to a bundle; return its manifest.

    Fixed point needs calibration inputs: the training inputs of ``dataset`` (default: the
    data set in the checkpoint's header,
    :func:`neurodecorr.learning.checkpoint.load_trained_network`).
    """
    from neurodecorr.data import load_dataset
    from neurodecorr.learning.checkpoint import load_trained_network

    network, recorded = load_trained_network(checkpoint)
    dataset = dataset or recorded
    calibration = None
    if precision == "fixed":
        if dataset is None:
            raise NeurodecorrError("--dataset: fixed-point export needs a data set for its range")
        calibration = load_dataset(dataset).x_train
        if calibration.shape[1] != network.layers[0].n_in:
            raise NeurodecorrError(f"--dataset: {dataset} has {calibration.shape[1]} features, "
                                   f"the network takes {network.layers[0].n_in}")
    export = export_network(network, precision, mapping, calibration, tol)
    out = write_bundle(out_dir, network, export, dataset=dataset, source=str(checkpoint))
    return json.loads((out / MANIFEST).read_text())


def _file(folder: Path, name: str) -> Path:
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise NeurodecorrError(f"{path}: missing or not a regular file (listed in {MANIFEST})")
    if path.resolve().parent != folder.resolve():
        raise NeurodecorrError(f"{path}: outside the bundle folder")
    return path


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise NeurodecorrError(f"{folder}: not a folder; run `neurodecorr export-lava` first")
    if not path.is_file():
        raise NeurodecorrError(f"{folder}: no {MANIFEST}; run `neurodecorr export-lava` first")
    try:
        manifest = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise NeurodecorrError(f"{path}: not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise NeurodecorrError(f"{path}: kind is not '{KIND}'")
    if manifest.get("version") != VERSION:
        raise NeurodecorrError(f"{path}: version {manifest.get('version')!r} is not supported "
                               f"(this neurodecorr reads version {VERSION}; export again)")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != {EXCHANGE, NETWORK}:
        raise NeurodecorrError(f"{path}: 'files' must give the checksums of exactly "
                               f"{EXCHANGE} and {NETWORK}")
    for name, digest in files.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise NeurodecorrError(f"{path}: files/{name} is not a SHA-256 hex digest")
    return manifest


def read_bundle(folder: str | os.PathLike) -> Bundle:
    """Read and check a bundle (see the module docstring)."""
    folder = Path(folder)
    manifest = _manifest(folder)
    paths = {}
    for name, digest in manifest["files"].items():
        paths[name] = _file(folder, name)
        if hashlib.sha256(paths[name].read_bytes()).hexdigest() != digest:
            raise NeurodecorrError(f"{paths[name]}: does not match its checksum in {MANIFEST}")
    export = load_export(paths[EXCHANGE])
    network = Network.load(paths[NETWORK])
    where = folder / MANIFEST
    for key in ("precision", "mapping", "steps_per_sample"):
        if manifest.get(key) != getattr(export, key):
            raise NeurodecorrError(f"{where}: {key} {manifest.get(key)!r} does not match "
                                   f"{EXCHANGE} ({getattr(export, key)!r})")
    if manifest.get("latency_steps") != export.latency:
        raise NeurodecorrError(f"{where}: latency_steps does not match {EXCHANGE}")
    for key, value in _scales(export).items():
        if manifest.get(key) != value:
            raise NeurodecorrError(f"{where}: {key} {manifest.get(key)!r} does not match "
                                   f"{EXCHANGE} ({value!r})")
    n_dense = sum(1 for la in export.layers if la["type"] == "dense")
    if (network.layers[0].n_in, network.layers[-1].weight.shape[0], len(network.layers)) != \
            (export.n_in, export.n_out, n_dense):
        raise NeurodecorrError(f"{folder}: {NETWORK} ({network.sizes}) is not the network in "
                               f"{EXCHANGE}")
    _check_network(export, network, paths[EXCHANGE])
    return Bundle(export=export, network=network, manifest=manifest, folder=folder)


_REL = 1e-9  # relative tolerance for values derived from A = M⁻¹ (machine-dependent last bits)


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _REL * scale))


def _near(a, b, steps: int) -> bool:
    """Integers equal to within ``steps`` (a rounding of ``A``'s last bits may flip one)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all(np.abs(a.astype(np.int64) - b) <= steps))


def _check_network(export: LavaExport, network: Network, path: Path) -> None:
    """Refuse an exchange file that is not what the exporter writes for ``network``."""
    tol = export.info["tol"]

    def refuse(i: int, key: str, why: str = "differs from what the exporter writes for "
               f"{NETWORK}") -> None:
        raise NeurodecorrError(f"{path}: layer/{i}/{key} {why}")

    def stage(i: int, bias: np.ndarray, activation: str, slope: float) -> dict:
        st = export.layers[i]
        if st["activation"] != activation:
            refuse(i, "activation")
        if st["negative_slope"] != slope:
            refuse(i, "negative_slope")
        if export.precision == "float":
            ok = np.array_equal(st["bias"], bias)
        else:
            ok = np.array_equal(st["bias"], fixed.to_fixed(st["step"] * bias, st["frac_bits"]))
        if not ok:
            refuse(i, "bias")
        return st

    def lateral(i: int, la: dict, A: np.ndarray, k: int) -> None:
        what = f"{path}: layer/{i}"
        integ = la["type"] == "integrator"
        count = "n_settle" if integ else "n_sub"
        if export.precision == "float":
            a = la["alpha"]
            plan = settling_plan(A, tol, what=f"{what}/alpha (network layer {k})", alpha=a)
            if integ:
                pairs = [("weight_rec", -a * A), ("weight_in", a * np.eye(A.shape[0]))]
            else:
                pairs = [("leak", a * np.diag(A)), ("lateral", a * (A - np.diag(np.diag(A))))]
            for key, want in pairs:
                if not _close(la[key], want):
                    refuse(i, key)
            needed = plan.n_total
        else:
            fl, needed = _fixed_lateral(A, tol, f"{what} (network layer {k})")
            exp = la["weight_rec_exp"] - la["rec_shift"] if integ else la["lateral_exp"]
            lat = -la["weight_rec"] if integ else la["lateral"]
            leak_key = "decay" if integ else "leak"
            if not _near(lat, fl.lateral, 2):
                refuse(i, "weight_rec" if integ else "lateral")
            if not _near(la[leak_key], fl.leak, 1):
                refuse(i, leak_key)
            if exp != fl.lateral_exp:
                refuse(i, "weight_rec_exp" if integ else "lateral_exp")
            if not _close(la["step"], fl.step):
                refuse(i, "step")
        if la[count] < needed:
            refuse(i, count, f"{la[count]} is fewer sub-steps than the settling of the "
                             f"network's layer {k} needs for tol {tol:.3g} ({needed})")

    i = 1
    bias, act, slope = np.zeros(network.layers[0].n_in), "identity", 0.0
    for k, layer in enumerate(network.layers):
        st = stage(i, bias, act, slope)
        has_integrator = export.layers[i + 1]["type"] == "integrator"
        decorrelates = st["decorrelate"] or has_integrator
        if decorrelates != (layer.decorrelation is not None):
            refuse(i, "decorrelate", f"does not match {NETWORK} (network layer {k})")
        if decorrelates:
            j = i + 1 if has_integrator else i
            lateral(j, export.layers[j], layer.lateral, k)
        i += 2 if has_integrator else 1
        dense = export.layers[i]
        if export.precision == "float":
            ok = np.array_equal(dense["weight"], layer.weight)
        else:
            mant, sigma = fixed.quantise_rows(layer.weight)
            ok = np.array_equal(dense["weight"], mant) and _close(dense["row_scale"], sigma)
        if not ok:
            refuse(i, "weight")
        i += 1
        bias, act, slope = layer.bias, layer.activation, layer.negative_slope
    stage(i, bias, act, slope)
