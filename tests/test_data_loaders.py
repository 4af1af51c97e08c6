"""Data sets: shapes, splits and statistics; CIFAR batches written here in the official format."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from neurodecorr.data import LOADERS, load_dataset
from neurodecorr.data.cifar import LAYOUTS, RestrictedUnpickler, read_batch
from neurodecorr.data.synthetic import load_synthetic, spectrum
from neurodecorr.errors import NeurodecorrError


def test_registry_lists_every_dataset_and_refuses_unknown_names():
    assert {"mnist1d", "digits", "synthetic", "cifar10", "cifar100"} <= set(LOADERS)
    with pytest.raises(NeurodecorrError, match="unknown dataset 'mnist2d'"):
        load_dataset("mnist2d")


def test_digits_split_is_fixed_and_standardised():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.x_train.shape[1] == 64 and len(a.x_train) + len(a.x_test) == 1797
    assert len(a.x_test) == round(0.2 * 1797)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    varying = a.x_train.std(axis=0) > 0
    np.testing.assert_allclose(a.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a.x_train.std(axis=0)[varying], 1, rtol=1e-12)
    assert set(np.unique(a.y_train)) == set(range(10))


def test_synthetic_covariance_has_the_requested_spectrum():
    n, d = 40000, 8
    data = load_synthetic(n_features=d, n_train=n, n_test=10, decay=1.5, seed=4)
    eig = np.sort(np.linalg.eigvalsh(np.cov(data.x_train.T, bias=True)))[::-1]
    lam = spectrum(d, 1.5)
    # each sample eigenvalue of a Gaussian covariance has relative s.e. ≈ √(2/n) ≈ 0.007
    np.testing.assert_allclose(eig, lam, rtol=0.05)
    assert lam.sum() == pytest.approx(d)


def test_synthetic_is_seeded_and_labels_use_every_class():
    a = load_synthetic(seed=1)
    b = load_synthetic(seed=1)
    c = load_synthetic(seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert set(np.unique(a.y_train)) == set(range(4))
    with pytest.raises(NeurodecorrError, match="decay"):
        load_synthetic(decay=-1)


def test_mnist1d_is_generated_offline_with_the_published_shapes():
    d = load_dataset("mnist1d")
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.n_classes == 10


class _Python2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` opcodes (BINSTRING), as the official CIFAR batches
    were written; Python 3's own protocol 2 would route them through ``_codecs.encode``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + n.to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _py2_dumps(obj) -> bytes:
    buf = io.BytesIO()
    _Python2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _write_cifar(folder, name, n_per_batch=4, seed=0, extra=None):
    rng = np.random.default_rng(seed)
    required = LAYOUTS[name][0]
    label_key, n_classes = LAYOUTS[name][4], LAYOUTS[name][5]
    truth = {}
    for f in sorted(required):
        if f in ("batches.meta", "meta"):
            obj = {b"label_names": [b"a", b"b"], b"num_cases_per_batch": n_per_batch}
        else:
            data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, n_classes, n_per_batch)]
            obj = {b"batch_label": f.encode(), label_key: labels, b"data": data,
                   b"filenames": [b"x.png"] * n_per_batch}
            if name == "cifar100":
                obj[b"coarse_labels"] = [0] * n_per_batch
            truth[f] = (data, labels)
        (folder / f).write_bytes(_py2_dumps(obj))
    for f in extra or ():
        (folder / f).write_text("x")
    return truth


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_loads_the_official_batch_format(tmp_path, name):
    truth = _write_cifar(tmp_path, name, extra=["readme.html"] if name == "cifar10" else [])
    d = load_dataset(name, data_dir=str(tmp_path))
    train_files, test_files = LAYOUTS[name][2], LAYOUTS[name][3]
    x_raw = np.concatenate([truth[f][0] for f in train_files]).astype(np.float64) / 255
    mean, std = x_raw.mean(axis=0), x_raw.std(axis=0)
    std[std == 0] = 1
    np.testing.assert_allclose(d.x_train, (x_raw - mean) / std, rtol=1e-12)
    np.testing.assert_array_equal(d.y_train, np.concatenate([truth[f][1] for f in train_files]))
    np.testing.assert_array_equal(d.y_test, np.concatenate([truth[f][1] for f in test_files]))
    assert d.n_classes == (10 if name == "cifar10" else 100)


def test_cifar_folder_must_hold_exactly_the_official_files(tmp_path):
    with pytest.raises(NeurodecorrError, match="never downloaded"):
        load_dataset("cifar10")
    with pytest.raises(NeurodecorrError, match="no such folder"):
        load_dataset("cifar10", data_dir=str(tmp_path / "nope"))
    _write_cifar(tmp_path, "cifar10")
    (tmp_path / "test_batch").unlink()
    with pytest.raises(NeurodecorrError, match="missing test_batch"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    _write_cifar(tmp_path, "cifar10", extra=["evil.py"])
    with pytest.raises(NeurodecorrError, match="not part of cifar10: evil.py"):
        load_dataset("cifar10", data_dir=str(tmp_path))


class _RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_restricted_unpickler_refuses_anything_but_numpy_arrays(tmp_path, capsys):
    bad = tmp_path / "data_batch_1"
    bad.write_bytes(_py2_dumps({b"data": _RunsCode()}))
    with pytest.raises(NeurodecorrError, match=r"refused global (__builtin__|builtins)\.print"):
        read_batch(bad)
    assert "must never run" not in capsys.readouterr().out
    ok = tmp_path / "ok"
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    ok.write_bytes(_py2_dumps({b"data": arr, b"labels": [1, 2]}))
    with open(ok, "rb") as fh:
        got = RestrictedUnpickler(fh, encoding="bytes").load()
    np.testing.assert_array_equal(got[b"data"], arr)


def test_cifar_batch_with_wrong_shape_is_a_clear_error(tmp_path):
    _write_cifar(tmp_path, "cifar100")
    (tmp_path / "train").write_bytes(_py2_dumps(
        {b"data": np.zeros((2, 10), np.uint8), b"fine_labels": [0, 1]}))
    with pytest.raises(NeurodecorrError, match=r"shape \(N, 3072\)"):
        load_dataset("cifar100", data_dir=str(tmp_path))
    (tmp_path / "train").write_bytes(b"not a pickle")
    with pytest.raises(NeurodecorrError, match="not a CIFAR python batch"):
        load_dataset("cifar100", data_dir=str(tmp_path))
