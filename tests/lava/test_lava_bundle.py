"""The strict bundle loader: bundles written by the real exporter, then damaged.

Every damage must be refused by ``lava-run`` with one line naming the problem, exit status 2,
no traceback, before anything runs. Damage to ``network.h5`` comes with its checksum redone
(as a careless or malicious editor would), so that the field checks themselves are tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.lava.bundle import read_bundle


@pytest.fixture(scope="module")
def bundles(trained, tmp_path_factory):
    _, ckpt = trained
    root = tmp_path_factory.mktemp("bundles")
    for precision in ("fixed", "float"):
        assert main(["export-lava", str(ckpt), "--out", str(root / precision),
                     "--precision", precision, "--dataset", "mnist1d"]) == 0
    return root


def _copy(bundles: Path, tmp_path: Path, precision: str = "fixed") -> Path:
    out = tmp_path / "b"
    shutil.copytree(bundles / precision, out)
    return out


def _rehash(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _refused(folder: Path, capsys, message: str) -> None:
    assert main(["lava-run", str(folder), "--dataset", "mnist1d", "--samples", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def _set(folder: Path, key: str, value) -> None:
    with h5py.File(folder / "network.h5", "r+") as f:
        if key in f:
            del f[key]
        f[key] = value
    _rehash(folder)


def test_real_bundle_reads_back(bundles):
    for precision in ("fixed", "float"):
        bundle = read_bundle(bundles / precision)
        assert bundle.export.precision == precision and bundle.export.mapping == "loihi"
        assert bundle.manifest["versions"]["numpy"] == np.__version__


@pytest.mark.parametrize("key, value, message", [
    ("layer/3/weight", "nan", "layer/3/weight: must be integer numbers, got dtype float64"),
    ("layer/3/row_scale", "nan", "layer/3/row_scale: holds a non-finite value"),
    ("layer/3/weight", 100000, "layer/3/weight: value 100000 outside [-254, 254]"),
    ("layer/3/weight", 3, "mantissas must be even"),
    ("layer/3/weight_exp", -10, "layer/3/weight_exp: value -10 outside [-8, 7]"),
    ("layer/2/weight_rec_exp", -9, "layer/2/weight_rec_exp: value -9 outside [-8, 7]"),
    ("layer/1/gain", 5000, "layer/1/gain: value 5000 outside [0, 4095]"),
    ("layer/1/bias", 2**23, "layer/1/bias: value 8388608 outside"),
    ("layer/2/decay", -1, "layer/2/decay: value -1 outside [0, 4095]"),
    ("layer/2/n_settle", -5, "layer/2/n_settle: value -5 outside"),
    ("layer/1/activation", b"tanh", "activation 'tanh' is not one of"),
    ("layer/1/gain_shift", 2.5, "layer/1/gain_shift: must be integer numbers"),
    ("layer/1/decorrelate", 1, "layer/1/decorrelate: must be a boolean"),
])
def test_damaged_fields_are_refused(bundles, tmp_path, capsys, key, value, message):
    folder = _copy(bundles, tmp_path)
    with h5py.File(folder / "network.h5", "r") as f:
        old = f[key][()]
    if isinstance(value, str) and value == "nan":
        new = np.array(old, dtype=np.float64)
        new.flat[0] = np.nan
    elif isinstance(value, bytes) or np.ndim(old) == 0:
        new = value
    else:
        new = np.array(old)
        new.flat[0] = value
    _set(folder, key, new)
    _refused(folder, capsys, message)


def test_missing_and_extra_fields_and_wrong_shapes(bundles, tmp_path, capsys):
    folder = _copy(bundles, tmp_path)
    with h5py.File(folder / "network.h5", "r+") as f:
        del f["layer/1/gain"]
    _rehash(folder)
    _refused(folder, capsys, "layer/1: missing field 'gain'")
    folder = _copy(bundles, tmp_path / "2")
    _set(folder, "layer/1/colour", 1)
    _refused(folder, capsys, "layer/1: unexpected field 'colour'")
    folder = _copy(bundles, tmp_path / "3")
    with h5py.File(folder / "network.h5", "r") as f:
        w = f["layer/3/weight"][()]
    _set(folder, "layer/3/weight", w[:, :-1])
    _refused(folder, capsys, "layer/3/weight: shape")
    folder = _copy(bundles, tmp_path / "4", "float")
    with h5py.File(folder / "network.h5", "r") as f:
        n_sub = f["layer/1/n_sub"][()]
    _set(folder, "layer/1/n_sub", -5 if n_sub == 0 else -n_sub)
    _refused(folder, capsys, "layer/1/n_sub: value -")
    folder = _copy(bundles, tmp_path / "5", "float")
    with h5py.File(folder / "network.h5", "r") as f:
        w = f["layer/3/weight"][()]
    w[0, 0] = np.inf
    _set(folder, "layer/3/weight", w)
    _refused(folder, capsys, "layer/3/weight: holds a non-finite value")


def test_root_attributes_are_checked(bundles, tmp_path, capsys):
    for attr, value, message in [("version", 2, "version 2 is not supported"),
                                 ("steps_per_sample", 0, "'steps_per_sample' must be an integer"),
                                 ("mapping", "chip", "unknown precision 'fixed' or mapping")]:
        folder = _copy(bundles, tmp_path / attr)
        with h5py.File(folder / "network.h5", "r+") as f:
            f.attrs[attr] = value
        _rehash(folder)
        _refused(folder, capsys, message)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(kind="something-else"), "kind is not 'neurodecorr.lava-bundle'"),
    (lambda m: m.update(version=2), "version 2 is not supported"),
    (lambda m: m.update(files={}), "'files' must give the checksums of exactly"),
    (lambda m: m["files"].pop("network.npz"), "'files' must give the checksums of exactly"),
    (lambda m: m["files"].update({"../escape.h5": "0" * 64}), "checksums of exactly"),
    (lambda m: m["files"].update({"network.h5": "abc"}), "not a SHA-256 hex digest"),
    (lambda m: m.update(precision="float"), "precision 'float' does not match"),
    (lambda m: m.update(steps_per_sample=1), "steps_per_sample 1 does not match"),
])
def test_damaged_manifests_are_refused(bundles, tmp_path, capsys, edit, message):
    folder = _copy(bundles, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _refused(folder, capsys, message)


def test_checksums_and_confinement(bundles, tmp_path, capsys):
    folder = _copy(bundles, tmp_path)
    with (folder / "network.h5").open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 1]))
    _refused(folder, capsys, "does not match its checksum")
    # a link to an identical file outside the folder passes the checksum, not the confinement
    folder = _copy(bundles, tmp_path / "2")
    outside = tmp_path / "outside.h5"
    shutil.copy(folder / "network.h5", outside)
    (folder / "network.h5").unlink()
    (folder / "network.h5").symlink_to(outside)
    _refused(folder, capsys, "network.h5: missing or not a regular file")
    folder = _copy(bundles, tmp_path / "3")
    (folder / "network.npz").unlink()
    _refused(folder, capsys, "network.npz: missing or not a regular file")
    (folder / "manifest.json").write_text("{not json")
    _refused(folder, capsys, "manifest.json: not valid JSON")


def test_network_must_be_the_exported_one(bundles, tmp_path, capsys, trained):
    net, _ = trained
    folder = _copy(bundles, tmp_path)
    from neurodecorr.core import Network

    Network(net.layers[:1]).save(folder / "network.npz")
    _rehash(folder)
    _refused(folder, capsys, "is not the network in network.h5")


def test_fixed_export_straight_from_a_train_checkpoint(tmp_path, capsys):
    """The data set for the fixed-point range comes from the checkpoint ``train`` writes."""
    ckpt = tmp_path / "net.npz"
    assert main(["train", "--decorrelation", "ahmad", "--hidden", "16", "--epochs", "1",
                 "--checkpoint", str(ckpt)]) == 0
    out = tmp_path / "bundle"
    assert main(["export-lava", str(ckpt), "--out", str(out), "--precision", "fixed"]) == 0
    assert read_bundle(out).manifest["dataset"] == "mnist1d"
    assert main(["lava-run", str(out), "--dataset", "mnist1d", "--samples", "3"]) == 0
    assert "argmax agreement" in capsys.readouterr().out
