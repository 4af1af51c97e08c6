"""Update algorithms of an analogue array (circuits/updates.py): mixed precision in closed form,
the transfer algorithms on a quadratic problem, determinism, validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.updates import UPDATES, UpdateConfig, make_array
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError

DW = 0.01  # device step (normalised units); weight scale 1, so the granularity is DW


def _device(model="constant_step", up_down=0.0, dw=DW, **pulsed):
    d = load_device("ideal")
    return dataclasses.replace(d, pulsed=dataclasses.replace(
        d.pulsed, model=model, up_down=up_down, dw_min_norm=dw, **pulsed))


SYMMETRIC = _device()
# soft bounds, up steps 1.4 dw and down steps 0.6 dw: a zero-mean update drives every device
# to its symmetry point w = 0.4 (of the range ±1), not to 0
ASYMMETRIC = _device("soft_bounds", 0.4)


def test_mixed_precision_delivers_the_accumulated_update_to_one_granularity(rng):
    """Nandakumar 2020: every device is pulsed by whole steps ε and the digital χ keeps the
    remainder, so W − W0 + χ is the accumulated update Σ ΔW exactly and |χ| < ε: each device
    holds the accumulated update to within one granularity."""
    W0 = rng.uniform(-0.3, 0.3, (5, 7))
    arr = make_array(SYMMETRIC, W0, np.random.default_rng(1), 0.0, 1.0,
                     UpdateConfig("mixed-precision"))
    start = arr.effective_weights(0.0)  # W0 as programmed
    total = np.zeros_like(W0)
    for _ in range(40):
        x, d = rng.standard_normal((3, 7)), rng.standard_normal((3, 5))
        arr.update(x, d, 0.004, 0.0)
        total += 0.004 * d.T @ x
        W = arr.effective_weights(0.0)
        assert np.all(np.abs(arr.chi) < DW)
        steps = (W - start) / DW
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)  # whole pulses only
        assert np.all(np.abs(W - start - total) < DW)
        np.testing.assert_allclose(W - start + arr.chi, total, atol=1e-9)
    assert np.abs(total).max() > 5 * DW  # several pulses were delivered


def _quadratic(algorithm, device, steps=1500, seed=0):
    """Least squares ½‖W x − W* x‖² with Gaussian x: SGD steps d = (W* − W) x, read through
    the array. Returns max |W − W*| at the end."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.4, 0.4, (3, 4))
    arr = make_array(device, np.zeros((3, 4)), np.random.default_rng([seed, 1]), 0.0, 1.0,
                     UpdateConfig(algorithm, transfer_columns=1))
    for _ in range(steps):
        x = rng.standard_normal(4)
        d = target @ x - arr.matvec(x, 0.0)
        arr.update(x[None], d[None], 0.05, 0.0)
    return float(np.abs(arr.effective_weights(0.0) - target).max())


@pytest.mark.parametrize("algorithm", ["sgd", "mixed-precision", "tiki-taka", "ttv2", "agad"])
@pytest.mark.parametrize("device", [SYMMETRIC, ASYMMETRIC], ids=["symmetric", "asymmetric"])
def test_algorithms_reach_the_optimum_of_a_quadratic(algorithm, device):
    """The known optimum W* to within 3 device steps, on a symmetric device and on one whose
    symmetry point sits at 0.4 (the offset the transfer algorithms correct)."""
    assert _quadratic(algorithm, device) < 3 * DW


@pytest.mark.parametrize("algorithm", UPDATES)
def test_updates_are_deterministic_for_a_seed(algorithm):
    device = _device("soft_bounds", 0.2, c2c_rel=0.3, d2d_dw_min_rel=0.2, write_noise_rel=0.5)
    runs = []
    for _ in range(2):
        arr = make_array(device, np.full((3, 4), 0.1), np.random.default_rng(5), 0.0, 1.0,
                         UpdateConfig(algorithm, symmetry_pulses=50))
        rng = np.random.default_rng(6)
        for _ in range(60):
            arr.update(rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), 0.05, 0.0)
        runs.append(arr.effective_weights(0.0))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], 0.1)


def test_transfer_counts_digital_work():
    arr = make_array(SYMMETRIC, np.zeros((3, 4)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("ttv2", transfer_every=2, symmetry_pulses=1,
                                  transfer_columns=1))
    arr.update(np.ones((1, 4)), np.ones((1, 3)), 0.1, 0.0)
    assert arr.counters["buffer_writes"] == 0
    arr.update(np.ones((1, 4)), np.ones((1, 3)), 0.1, 0.0)
    assert arr.counters["buffer_writes"] == 3 and arr.counters["digital_macs"] == 3


@pytest.mark.parametrize(("key", "value", "message"), [
    ("update", "adam", "update: must be one of sgd, mixed-precision"),
    ("transfer_every", 0, "transfer_every: must be >= 1"),
    ("momentum", 1.0, "momentum: must lie in [0, 1)"),
    ("chop_prob", 0.0, "chop_prob: must lie in (0, 1]"),
])
def test_circuit_update_keys_are_validated_on_construction(key, value, message):
    ideal = load_circuit("ideal")
    with pytest.raises(NeurodecorrError) as err:
        dataclasses.replace(ideal.forward, **{key: value})
    assert f"[forward] {message}" in str(err.value)


def test_circuit_file_chooses_the_update_per_array(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[forward]\nupdate = "mixed-precision"\n[lateral]\nupdate = "agad"\n'
                    'transfer_lr = 0.2\n')
    c = load_circuit(str(path))
    assert c.forward.update_config().algorithm == "mixed-precision"
    assert c.lateral.update_config() == UpdateConfig("agad", transfer_lr=0.2)
    assert c.lateral.update_config("ttv2").algorithm == "ttv2"
    path.write_text('[forward]\nupdate = "rmsprop"\n')
    with pytest.raises(NeurodecorrError, match=r"c.toml: \[forward\] update"):
        load_circuit(str(path))
