"""Atomic output and the plain-data network description."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core import Hardware, Layer, Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import write_outputs


def _net(rng):
    return Network([
        Layer(rng.normal(size=(5, 4)), rng.normal(size=5),
              np.eye(4) + 0.1 * rng.normal(size=(4, 4))),
        Layer(rng.normal(size=(3, 5)), np.zeros(3), None, activation="identity"),
    ], hardware=Hardware.on("rc-opamp", "pcm"), metadata={"trained_by": "test"})


def test_network_roundtrip_and_forward(tmp_path, rng):
    net = _net(rng)
    path = tmp_path / "net.npz"
    net.save(path, extra={"adam_m": np.ones(3)})
    loaded = Network.load(path)
    X = rng.normal(size=(7, 4))
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    assert loaded.metadata == {"trained_by": "test"}
    assert loaded.hardware == net.hardware == Hardware(("rc-opamp",), ("pcm",), ("pcm",))
    # independent forward: explicit formula
    l0, l1 = net.layers
    h = X @ l0.decorrelation.T @ l0.weight.T + l0.bias
    h = np.where(h > 0, h, 0.01 * h)
    np.testing.assert_allclose(net.forward(X), h @ l1.weight.T + l1.bias, rtol=1e-12)
    np.testing.assert_allclose(l0.lateral @ l0.decorrelation, np.eye(4), atol=1e-12)


def test_network_validation_names_the_layer(rng):
    with pytest.raises(NeurodecorrError, match="layer 1"):
        Network([Layer(rng.normal(size=(5, 4)), np.zeros(5)),
                 Layer(rng.normal(size=(3, 6)), np.zeros(3))])
    with pytest.raises(NeurodecorrError, match="NaN"):
        Network([Layer(np.full((2, 2), np.nan), np.zeros(2))])
    with pytest.raises(NeurodecorrError, match="forward device: 2 entries for a network of 1"):
        Network([Layer(np.eye(2), np.zeros(2))], hardware=Hardware(forward_device="pcm,ecram"))
    with pytest.raises(NeurodecorrError, match="circuit: empty name"):
        Hardware(circuit="ideal,")


def test_saved_hardware_is_what_the_chip_builds(tmp_path, rng):
    from neurodecorr.circuits.chip import Chip

    path = tmp_path / "net.npz"
    _net(rng).save(path)
    layers = Chip(Network.load(path), rng=0).describe()
    assert [(x["circuit"], x["lateral_device"], x["forward_device"]) for x in layers] == [
        ("rc-opamp", "pcm", "pcm"), ("rc-opamp", None, "pcm")]


def test_load_rejects_foreign_files(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.ones(2))
    with pytest.raises(NeurodecorrError, match="not a neurodecorr network"):
        Network.load(p)
    with pytest.raises(NeurodecorrError, match="no such file"):
        Network.load(tmp_path / "missing.npz")


def test_write_outputs_is_all_or_nothing(tmp_path):
    good = tmp_path / "a.bin"
    with pytest.raises(NeurodecorrError, match="output folder"):
        write_outputs({good: b"1", tmp_path / "missing" / "b.bin": b"2"})
    assert not good.exists()
    assert list(tmp_path.iterdir()) == []
    write_outputs({good: b"1"})
    assert good.read_bytes() == b"1"
