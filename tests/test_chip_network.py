"""Whole-chip network: equivalence with the software network, and analytic event counts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.circuits.chip import Chip
from neurodecorr.circuits.costs import tiles
from neurodecorr.core.forward import NumpyBackend
from neurodecorr.core.network import Hardware, Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.rules import Backprop

EXACT = NumpyBackend()


def _model(rng, sizes=(12, 16, 9, 5), slope=0.01, hardware=None):
    model = Network.dense(list(sizes), rng, decorrelated=True, negative_slope=slope,
                          hardware=hardware)
    for layer in model.layers:
        n = layer.n_in
        layer.decorrelation = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return model


def _circuit(tmp_path, body: str, name: str = "c") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return str(path)


def test_ideal_chip_equals_the_software_network(rng):
    model = _model(rng)
    X = rng.standard_normal((40, 12))
    y = rng.integers(0, 5, 40)
    ref = EXACT.forward(model, X)
    chip = Chip(model, rng=1, settle_tol=1e-12)
    trace = chip.forward(model, X)
    np.testing.assert_allclose(trace.logits, ref.logits, rtol=0, atol=1e-6)
    for name in ("x", "xbar", "z"):
        for a, b in zip(getattr(trace, name), getattr(ref, name), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # a learning rule given the chip as its backend computes the software gradients
    g_chip, _ = Backprop().gradients(model, chip, X, y, rng)
    g_soft, _ = Backprop().gradients(model, EXACT, X, y, rng)
    for a, b in zip(g_chip, g_soft, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_hardware_must_fit_the_network_and_a_chip_runs_only_its_own(rng):
    model = _model(rng, sizes=(6, 5, 3), hardware=Hardware(circuit="ideal,rc-opamp"))
    chip = Chip(model, rng=6)
    with pytest.raises(NeurodecorrError, match="circuit: 3 entries for a network of 2 layers"):
        replace(model, hardware=Hardware(circuit="ideal,ideal,ideal"))
    with pytest.raises(NeurodecorrError, match="not programmed"):
        chip.forward(model.copy(), np.zeros((1, 6)))


def test_ideal_chip_at_its_shipped_tolerance_is_within_the_settling_bound(rng):
    """With settle_tol = 1e-6 every x̄ is within cond(A)·tol·|x| of M x (residual bound)."""
    model = _model(rng, sizes=(10, 6))
    X = rng.standard_normal((30, 10))
    chip = Chip(model, rng=2)
    xbar = chip.forward(model, X).xbar[0]
    M = model.layers[0].decorrelation
    exact = X @ M.T
    bound = 1e-6 * np.linalg.norm(M, 2) * np.linalg.norm(X, axis=1)
    assert np.all(np.linalg.norm(xbar - exact, axis=1) <= bound)


def test_layer_without_decorrelation_reads_only_the_forward_array(rng):
    model = Network.dense([6, 4, 3], rng)
    X = rng.standard_normal((8, 6))
    chip = Chip(model, rng=3)
    np.testing.assert_allclose(chip.forward(model, X).logits, EXACT.forward(model, X).logits,
                               atol=1e-12)
    assert chip.totals()["integration_steps"] == 0


def test_event_counts_equal_the_analytic_count(tmp_path, rng):
    """Fixed window of K Euler steps: K+1 lateral reads per settle, one forward read per layer."""
    K, tile = 10, 2
    path = _circuit(tmp_path, f"""
[lateral]
dt_s = 1.0e-7
settle_window_s = {K * 1e-7}
settle_tol = 0.0
tile_size = {tile}
[forward]
tile_size = {tile}
[energy]
crossbar_read_J = 1e-12
integration_step_J = 2e-14
adc_conversion_J = 3e-13
dac_conversion_J = 5e-14
""")
    sizes = [4, 5, 3]
    model = _model(rng, sizes=sizes, hardware=Hardware(circuit=path))
    B = 7
    chip = Chip(model, rng=4)
    chip.forward(model, rng.standard_normal((B, sizes[0])))
    got = chip.totals()
    lat = [(n, n) for n in sizes[:-1]]
    fwd = [(o, i + 1) for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    want = {
        "crossbar_reads": B * sum((K + 1) * tiles(s, tile) for s in lat)
        + B * sum(tiles(s, tile) for s in fwd),
        "macs": B * sum((K + 1) * o * i for o, i in lat) + B * sum(o * i for o, i in fwd),
        "dac_conversions": B * sum((K + 1) * i for _, i in lat) + B * sum(i for _, i in fwd),
        "adc_conversions": B * sum((K + 1) * o for o, _ in lat) + B * sum(o for o, _ in fwd),
        "integration_steps": B * K * sum(sizes[:-1]),
        "device_pulses": 0, "writes": 0,
    }
    for key, value in want.items():
        assert got[key] == value, key
    energy = (1e-12 * want["crossbar_reads"] + 2e-14 * want["integration_steps"]
              + 3e-13 * want["adc_conversions"] + 5e-14 * want["dac_conversions"])
    assert got["energy_J"] == pytest.approx(energy, rel=1e-12)
    assert got["samples"] == B


def test_pulse_count_of_a_saturated_write_is_exact(rng):
    """A rank-1 update whose every line fires with probability 1: BL·out·(in+1) device pulses."""
    model = Network.dense([3, 4], rng)
    chip = Chip(model, rng=5)
    layer = chip.layers[0]
    u = np.array([1.0, -1.0, 1.0, 1.0]) * 0.3
    v = np.array([1.0, 1.0, -1.0, 1.0]) * 0.2  # the last entry is the bias column
    dW, db = np.outer(u, v[:3]), u * v[3]
    # write_rank1 gets d = s·U = u‖v‖ and x = v/‖v‖, so K = (lr/scale)·max|x|·max|d|/dw_min
    dw_min = layer.forward.config.pulsed.dw_min_norm
    bl = 3
    lr = bl * (1 - 1e-9) * dw_min * layer.forward.scale / (0.3 * 0.2)
    writes = chip.write_forward(0, dW, db, lr)
    c = layer.forward.counters
    assert writes == 1
    assert c["pulse_slots"] == bl
    assert c["line_pulses"] == bl * (4 + 4)
    assert c["device_pulses"] == bl * 4 * 4
    assert chip.totals()["device_pulses"] == bl * 16


def test_per_layer_circuits_and_devices(tmp_path, rng):
    model = _model(rng, sizes=(6, 5, 3),
                   hardware=Hardware(circuit=["ideal", "rc-opamp"], lateral_device="ideal",
                                     forward_device=["ideal", "ecram"]))
    chip = Chip(model, rng=6)
    d = chip.describe()
    assert [x["circuit"] for x in d] == ["ideal", "rc-opamp"]
    assert [x["forward_device"] for x in d] == ["ideal", "ecram"]
    assert chip.layers[1].lateral.crossbar.config.name == "ideal"


def test_chip_reports_the_network_it_holds(rng):
    model = _model(rng, sizes=(5, 4, 3))
    net = model
    back = Chip(net, rng=7).to_network()
    for a, b in zip(net.layers, back.layers, strict=True):
        np.testing.assert_allclose(b.weight, a.weight, atol=1e-12)
        np.testing.assert_allclose(b.bias, a.bias, atol=1e-12)
        np.testing.assert_allclose(b.decorrelation, a.decorrelation, atol=1e-10)
        assert (b.activation, b.negative_slope) == (a.activation, a.negative_slope)
