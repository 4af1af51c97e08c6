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
    assert main(["export-lava", str(ckpt), "--out", str(root / "layer"), "--mapping", "layer",
                 "--dataset", "mnist1d"]) == 0
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


def _get(folder: Path, key: str):
    with h5py.File(folder / "network.h5", "r") as f:
        return f[key][()]


def _set_steps(folder: Path, steps: int) -> None:
    """Change steps_per_sample consistently in the exchange file and the manifest."""
    with h5py.File(folder / "network.h5", "r+") as f:
        f.attrs["steps_per_sample"] = np.int64(steps)
    _rehash(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["steps_per_sample"] = steps
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_steps_per_sample_must_be_the_settling(bundles, tmp_path, capsys, precision):
    """The loihi mapping settles the integrators one after another: Σ n_settle steps."""
    folder = _copy(bundles, tmp_path, precision)
    total = int(_get(folder, "layer/2/n_settle") + _get(folder, "layer/5/n_settle"))
    assert read_bundle(folder).export.steps_per_sample == total
    _set_steps(folder, 5)
    _refused(folder, capsys, f"steps_per_sample 5 does not match the settling of its layers "
                             f"({total}")
    folder = _copy(bundles, tmp_path / "layer", "layer")
    _set_steps(folder, 5)
    _refused(folder, capsys, "steps_per_sample 5 does not match the settling of its layers (1")


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_fewer_settling_steps_than_the_plan_are_refused(bundles, tmp_path, capsys, precision):
    """n_settle cut to 1 with steps_per_sample made consistent. Float: the Euler iteration read
    from the file's weights does not reach its tol in one sub-step; fixed: the plan of the
    network's own lateral matrix (recomputed from network.npz) needs more."""
    folder = _copy(bundles, tmp_path, precision)
    needed = int(_get(folder, "layer/2/n_settle"))
    _set(folder, "layer/2/n_settle", np.int64(1))
    _set_steps(folder, 1 + int(_get(folder, "layer/5/n_settle")))
    if precision == "float":
        W = _get(folder, "layer/2/weight_rec")
        M = np.eye(W.shape[0]) + W
        _refused(folder, capsys, f"layer/2/n_settle: 1 Euler sub-steps bring the error only to "
                                 f"{np.linalg.norm(M, 2):.3g} of its start")
    else:
        _refused(folder, capsys, f"layer/2/n_settle 1 is fewer sub-steps than the settling of "
                                 f"the network's layer 0 needs for tol 1e-09 ({needed})")


def test_layer_mapping_sub_steps_must_reach_tol(bundles, tmp_path, capsys):
    """The float stage's own Euler iteration, read from its weights, must reach the file's tol
    in n_sub sub-steps: ‖Mⁿ‖₂ (numpy) of one sub-step is far above 1e-9."""
    folder = _copy(bundles, tmp_path, "layer")
    with h5py.File(folder / "network.h5", "r") as f:
        leak, lat = f["layer/1/leak"][()], f["layer/1/lateral"][()]
    M = np.eye(leak.size) - np.diag(leak) - lat
    _set(folder, "layer/1/n_sub", np.int64(1))
    _refused(folder, capsys, f"layer/1/n_sub: 1 Euler sub-steps bring the error only to "
                             f"{np.linalg.norm(M, 2):.3g} of its start")


@pytest.mark.parametrize("key", ["layer/3/weight_exp", "layer/2/weight_rec_exp"])
def test_dense_messages_must_fit_32_bits(bundles, tmp_path, capsys, key):
    folder = _copy(bundles, tmp_path)
    w = _get(folder, key.replace("_exp", ""))
    exp = 7  # in Loihi's range [-8, 7], but the row sums of 2^23 payloads overflow 2^31
    assert np.max(np.sum(np.abs(w), axis=1)) * 2.0 ** (23 + exp) >= 2.0**31
    _set(folder, key, np.int64(exp))
    _refused(folder, capsys, f"{key}: with {key.split('/')[-1][:-4]} the row sums of 24-bit "
                             "payloads can exceed Lava's 32-bit Dense message")


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_network_npz_is_authoritative(bundles, tmp_path, capsys, precision):
    """Negated weights in network.npz, checksum redone: the exchange file no longer holds
    what the exporter writes for it."""
    from neurodecorr.core import Network

    folder = _copy(bundles, tmp_path, precision)
    net = Network.load(folder / "network.npz")
    for layer in net.layers:
        layer.weight[...] = -layer.weight
    net.save(folder / "network.npz")
    _rehash(folder)
    _refused(folder, capsys, "layer/3/weight differs from what the exporter writes for "
                             "network.npz")


@pytest.mark.parametrize("key, value, message", [
    ("layer/2/decay", 1e10, "layer/2/decay: value 10000000000.0 outside [0.0, 1.0]"),
    ("layer/3/weight", 1e300, "layer/3/weight: value 1e+300 outside"),
    ("layer/2/alpha", 1e300, "layer/2/alpha: value 1e+300 outside"),
    ("layer/1/bias", -1e30, "layer/1/bias: value -1e+30 outside"),
])
def test_float_fields_have_physical_ranges(bundles, tmp_path, capsys, key, value, message):
    folder = _copy(bundles, tmp_path, "float")
    new = np.array(_get(folder, key), dtype=np.float64)
    new.flat[0] = value
    _set(folder, key, new)
    _refused(folder, capsys, message)


def test_float_euler_step_must_be_stable(bundles, tmp_path, capsys):
    """alpha scaled with its operators (a consistent file) beyond the stable range of A: the
    Euler iteration read from the weights diverges."""
    folder = _copy(bundles, tmp_path, "float")
    alpha = float(_get(folder, "layer/2/alpha"))
    for key in ("alpha", "weight_in", "weight_rec"):
        _set(folder, f"layer/2/{key}", _get(folder, f"layer/2/{key}") * 4.0)
    W = _get(folder, "layer/2/weight_rec")
    assert np.max(np.abs(np.linalg.eigvals(np.eye(W.shape[0]) + W))) > 1 and alpha > 0
    n = int(_get(folder, "layer/2/n_settle"))
    _refused(folder, capsys, f"layer/2/n_settle: {n} Euler sub-steps bring the error only to")


def test_manifest_scales_and_tol_are_checked(bundles, tmp_path, capsys):
    folder = _copy(bundles, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["stage_frac_bits"] = [1] * len(manifest["stage_frac_bits"])
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _refused(folder, capsys, "stage_frac_bits [1")
    for value in (0.0, 2.0, np.int64(1)):
        folder = _copy(bundles, tmp_path / str(value))
        with h5py.File(folder / "network.h5", "r+") as f:
            f.attrs["tol"] = value
        _rehash(folder)
        _refused(folder, capsys, "attribute 'tol' must be a number in (0, 1)")
