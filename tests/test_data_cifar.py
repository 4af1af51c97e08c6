"""CIFAR-10/100 in both official formats, written here by their real producers.

Python batches: a Python-2 style pickler (``str`` opcodes, as the distributed batches were
written) and Python 3's own ``pickle.dumps`` of the same structure with real numpy arrays.
Binary batches: the documented ``<label> <3072 pixels>`` records. Hostile batches are built
here; none may run code, crash the interpreter or give anything but a one-line error.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.data import load_dataset
from neurodecorr.data.cifar import LAYOUTS, parse_python_batch, read_cifar
from neurodecorr.errors import NeurodecorrError

PYTHON = {lay.dataset: lay for lay in LAYOUTS if lay.format == "python"}
BINARY = {lay.dataset: lay for lay in LAYOUTS if lay.format == "binary"}


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


def _batch(name, images, labels, rng) -> dict:
    """The dictionary of one official batch (keys as the distribution's bytes)."""
    obj = {b"batch_label": b"training batch 1 of 5", b"data": images,
           b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]}
    if name == "cifar10":
        obj[b"labels"] = [int(v) for v in labels]
    else:
        obj[b"fine_labels"] = [int(v) for v in labels]
        obj[b"coarse_labels"] = [int(v) for v in rng.integers(0, 20, len(images))]
    return obj


def _images(rng, n):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8)


def _write_python(folder, name, n=4, seed=0, dumps=_py2_dumps):
    rng = np.random.default_rng(seed)
    layout = PYTHON[name]
    truth = {}
    for f in sorted(layout.required):
        if f in ("batches.meta", "meta"):
            obj = {b"label_names": [b"a", b"b"], b"num_cases_per_batch": n}
        else:
            images, labels = _images(rng, n), rng.integers(0, layout.n_classes, n)
            obj = _batch(name, images, labels, rng)
            truth[f] = (images, labels)
        (folder / f).write_bytes(dumps(obj))
    return truth


def _write_binary(folder, name, n=4, seed=0):
    rng = np.random.default_rng(seed)
    layout = BINARY[name]
    truth = {}
    for f in sorted(layout.required):
        if f.endswith(".txt"):
            (folder / f).write_text("airplane\nautomobile\n")
            continue
        images, labels = _images(rng, n), rng.integers(0, layout.n_classes, n)
        columns = [labels[:, None].astype(np.uint8)]
        if name == "cifar100":
            columns.insert(0, rng.integers(0, 20, (n, 1), dtype=np.uint8))
        (folder / f).write_bytes(np.hstack(columns + [images]).tobytes())
        truth[f] = (images, labels)
    return truth


def _expected(truth, files):
    return (np.concatenate([truth[f][0] for f in files]),
            np.concatenate([truth[f][1] for f in files]))


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("writer", ["python2", "numpy-pickle", "binary"])
def test_both_official_formats_read_back_exactly(tmp_path, name, writer):
    if writer == "binary":
        truth, layout = _write_binary(tmp_path, name), BINARY[name]
    else:
        dumps = _py2_dumps if writer == "python2" else (lambda o: pickle.dumps(o, protocol=4))
        truth, layout = _write_python(tmp_path, name, dumps=dumps), PYTHON[name]
    x_train, y_train, x_test, y_test = read_cifar(name, tmp_path)
    want_x, want_y = _expected(truth, layout.train)
    np.testing.assert_array_equal(x_train, want_x)
    np.testing.assert_array_equal(y_train, want_y)
    np.testing.assert_array_equal(x_test, truth[layout.test[0]][0])
    np.testing.assert_array_equal(y_test, truth[layout.test[0]][1])
    d = load_dataset(name, data_dir=str(tmp_path))
    x = want_x.astype(np.float64) / 255
    std = x.std(axis=0)
    std[std == 0] = 1
    np.testing.assert_allclose(d.x_train, (x - x.mean(axis=0)) / std, rtol=1e-12)
    assert d.n_classes == (10 if name == "cifar10" else 100)


def test_folder_must_hold_exactly_one_official_archive(tmp_path):
    with pytest.raises(NeurodecorrError, match="never downloaded"):
        load_dataset("cifar10")
    with pytest.raises(NeurodecorrError, match="no such folder"):
        load_dataset("cifar10", data_dir=str(tmp_path / "nope"))
    inner = tmp_path / "cifar-10-batches-bin"
    inner.mkdir()
    _write_binary(inner, "cifar10")
    with pytest.raises(NeurodecorrError, match="holds cifar-10-batches-bin; name that folder"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    (inner / "test_batch.bin").unlink()
    with pytest.raises(NeurodecorrError, match="missing test_batch.bin"):
        load_dataset("cifar10", data_dir=str(inner))
    _write_python(tmp_path, "cifar100")
    (tmp_path / "evil.py").write_text("x")
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"")
    with pytest.raises(NeurodecorrError, match=r"not part of cifar100 \(python\): "
                                               r"cifar-10-batches-bin, evil.py"):
        load_dataset("cifar100", data_dir=str(tmp_path))


class _RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickle_that_names_any_other_global_is_refused_unrun(tmp_path, capsys):
    _write_python(tmp_path, "cifar10")
    (tmp_path / "test_batch").write_bytes(_py2_dumps({b"data": _RunsCode()}))
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--epochs", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr()
    assert "must never run" not in err.out
    assert "test_batch: not a cifar10 python batch" in err.err
    assert "refused global" in err.err and len(err.err.splitlines()) == 1


def test_crafted_dtype_state_never_reaches_numpy():
    # numpy.dtype('u1') rebuilt with a forged state (elsize 2**31-1, no subarray checks): the
    # kind of 68-byte batch that crashed numpy's dtype.__setstate__. It is refused as data.
    crafted = (b"\x80\x02cnumpy\ndtype\nq\x00U\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff"
               b"\xff\x7fK\x01K\x00tb.")
    assert len(crafted) <= 68
    with pytest.raises(ValueError, match="not a dictionary"):
        parse_python_batch(crafted, PYTHON["cifar10"])
    inside = (b"\x80\x02}U\x04data" + crafted[2:-1] + b"s.")
    with pytest.raises(ValueError):
        parse_python_batch(inside, PYTHON["cifar10"])


def test_a_pickle_cannot_change_the_stand_ins(tmp_path):
    # BUILD with slot state on the class that stands for numpy.ndarray: setattr on it
    attack = b"\x80\x02cnumpy\nndarray\nN}X\x0c\x00\x00\x00__setstate__Ns\x86b."
    with pytest.raises(ValueError, match="TypeError"):
        parse_python_batch(attack, PYTHON["cifar10"])
    rng = np.random.default_rng(1)
    images = _images(rng, 3)
    got, _ = parse_python_batch(_py2_dumps(_batch("cifar10", images, [1, 2, 3], rng)),
                                PYTHON["cifar10"])
    np.testing.assert_array_equal(got, images)


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update({b"data": np.zeros((2, 10), np.uint8)}), r"shape \(N, 3072\)"),
    (lambda b: b.update({b"data": np.zeros((2, 3072), np.int16)}), "not uint8"),
    (lambda b: b.update({b"data": np.asfortranarray(np.zeros((2, 3072), np.uint8))}),
     "C-ordered"),
    (lambda b: b.update({b"labels": [0, 10]}), r"integer labels in 0\.\.9"),
    (lambda b: b.update({b"labels": [0]}), "2 integer labels"),
    (lambda b: b.update({b"labels": [0, True]}), "integer labels"),
    (lambda b: b.pop(b"filenames"), "keys"),
    (lambda b: b.update({b"extra": 1}), "keys"),
    (lambda b: b.update({b"data": [[0] * 3072] * 2}), "not an array"),
])
def test_anything_but_the_exact_structure_is_refused(change, message):
    rng = np.random.default_rng(0)
    batch = _batch("cifar10", _images(rng, 2), [0, 1], rng)
    change(batch)
    with pytest.raises(ValueError, match=message):
        parse_python_batch(pickle.dumps(batch, protocol=4), PYTHON["cifar10"])


def test_forged_shape_and_protocol_5_buffers_are_refused():
    rng = np.random.default_rng(0)
    images = _images(rng, 2)
    batch = _batch("cifar10", images, [0, 1], rng)
    good = _py2_dumps(batch)
    # a header promising 10**9 images over 2 images' bytes: refused before any allocation
    forged = good.replace(b"K\x02M\x00\x0c\x86", b"J\x00\xca\x9a;M\x00\x0c\x86")
    assert forged != good
    with pytest.raises(ValueError, match="holds 6144 bytes"):
        parse_python_batch(forged, PYTHON["cifar10"])
    with pytest.raises(ValueError, match="refused global numpy._core.numeric._frombuffer"):
        parse_python_batch(pickle.dumps(batch, protocol=5), PYTHON["cifar10"])


def test_binary_records_are_checked(tmp_path):
    _write_binary(tmp_path, "cifar100")
    (tmp_path / "test.bin").write_bytes(b"\x00" * 3073)
    with pytest.raises(NeurodecorrError, match="not a whole number of 3074-byte records"):
        load_dataset("cifar100", data_dir=str(tmp_path))
    (tmp_path / "test.bin").write_bytes(bytes([0, 100]) + b"\x00" * 3072)
    with pytest.raises(NeurodecorrError, match=r"labels outside 0\.\.99"):
        load_dataset("cifar100", data_dir=str(tmp_path))


def test_fuzzed_batches_parse_or_fail_cleanly():
    """500 mutants of a real batch (fixed seed): each parses to a well-formed batch or raises
    ValueError; none may crash, hang or raise anything else."""
    rng = np.random.default_rng(20261202)
    images = _images(rng, 2)
    seeds = [_py2_dumps(_batch("cifar10", images, [3, 7], rng)),
             pickle.dumps(_batch("cifar10", images, [3, 7], rng), protocol=4)]
    parsed = refused = 0
    for trial in range(500):
        data = bytearray(seeds[trial % 2])
        # mutations concentrate on the pickle's structure, around the 6144 pixel bytes
        structure = list(range(0, 120)) + list(range(len(data) - 200, len(data)))
        for _ in range(int(rng.integers(1, 4))):
            op = rng.integers(0, 4)
            pos = int(rng.choice(structure)) % max(len(data), 1)
            if op == 0:
                data[pos] ^= 1 << int(rng.integers(0, 8))
            elif op == 1:
                data[pos] = int(rng.integers(0, 256))
            elif op == 2:
                data.insert(pos, int(rng.integers(0, 256)))
            else:
                del data[pos:]
        try:
            x, y = parse_python_batch(bytes(data), PYTHON["cifar10"])
        except ValueError:
            refused += 1
            continue
        parsed += 1
        assert x.dtype == np.uint8 and x.shape == (len(y), 3072)
        assert y.dtype == np.int64 and np.all((y >= 0) & (y < 10))
    assert refused > 0 and parsed + refused == 500
