"""What devices do to a fixed matrix: drift, compensation, converter resolution, the clock."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.devices import (
    Crossbar,
    DeviceConfig,
    DriftConfig,
    LogOrPolynomial,
    PulsedConfig,
    load_device,
)
from neurodecorr.errors import NeurodecorrError

N = 32
RNG = np.random.default_rng(0)
A = np.eye(N) + 0.2 * RNG.normal(size=(N, N)) / math.sqrt(N)
X = RNG.normal(size=(4000, N))
Y = X @ A.T
DAY = 86400.0


def rel_err(y: np.ndarray) -> float:
    return float(np.linalg.norm(y - Y) / np.linalg.norm(Y))


@pytest.mark.parametrize("comp", ["global", "column"])
def test_pcm_drift_then_compensation(comp):
    """PCM at t = 0 errs a little, more after a day, less again with drift compensation."""
    plain = Crossbar(load_device("pcm"), A, np.random.default_rng(1))
    e0, e_day = rel_err(plain.matvec(X, 0.0)), rel_err(plain.matvec(X, DAY))
    comped = Crossbar(load_device("pcm"), A, np.random.default_rng(1), drift_compensation=comp)
    e_comp = rel_err(comped.matvec(X, DAY))
    assert 0.0 < e0 < e_day
    assert e_comp < e_day - 0.05
    # a day of drift at nu ~ 0.05 scales conductances by ~0.66: the uncompensated output shrinks
    gain = float(np.sum(plain.matvec(X, DAY) * Y) / np.sum(Y * Y))
    assert 0.55 < gain < 0.75
    gain_c = float(np.sum(comped.matvec(X, DAY) * Y) / np.sum(Y * Y))
    assert abs(gain_c - 1.0) < 0.1


def test_eight_bit_adc_errs_more_than_ten_bit():
    errs = {}
    for periph in ("periphery-8bit", "periphery-10bit"):
        cfg = load_device(f"pcm+{periph}")
        errs[periph] = rel_err(Crossbar(cfg, A, np.random.default_rng(2)).matvec(X, 0.0))
    assert errs["periphery-8bit"] > errs["periphery-10bit"]
    # converters alone: quantisation error scales with the LSB (4x per 2 bits)
    conv = {}
    for bits in (8, 10):
        base = load_device("pcm+periphery-8bit")
        cfg = DeviceConfig(mapping=base.mapping, dac=replace(base.dac, bits=bits),
                           adc=replace(base.adc, bits=bits))
        conv[bits] = rel_err(Crossbar(cfg, A, np.random.default_rng(2)).matvec(X, 0.0))
    assert conv[8] > 2.5 * conv[10] > 0


NU = 0.06
FIXED_NU = DriftConfig(t0_s=20.0, nu_mean=LogOrPolynomial(intercept=NU, lo=NU, hi=NU))


def drift(age: float) -> float:
    return ((age + 20.0) / 20.0) ** -NU


def test_drift_continues_during_online_learning():
    """Written devices keep their clock: the written value drifts on at the rate of the
    device's age, g(t) = g(t_w) D(t)/D(t_w); the others keep drifting from programming."""
    cfg = DeviceConfig(drift=FIXED_NU, pulsed=PulsedConfig(dw_min_norm=0.001))
    w0 = np.full((4, 6), 0.5)
    cb = Crossbar(cfg, w0, np.random.default_rng(3), weight_scale=1.0)
    t_w, t_r = 1000.0, 1e5
    x = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # only columns 0 and 1 are written
    d = np.ones(4)
    cb.write_rank1(x, d, 0.05, t_w)
    w = cb.effective_weights(t_r)
    untouched = w[:, 2:]
    np.testing.assert_allclose(untouched, 0.5 * drift(t_r), rtol=1e-12)
    # written: the drifted value at t_w plus the pulses, then drifting on with the same clock
    n_pulses = np.rint((cb.effective_weights(t_w)[:, :2] - 0.5 * drift(t_w)) / 0.001)
    assert np.all(n_pulses > 0)
    expected = (0.5 * drift(t_w) + 0.001 * n_pulses) * drift(t_r) / drift(t_w)
    np.testing.assert_allclose(w[:, :2], expected, rtol=1e-9)
    # the matvec at t_r sees exactly these weights (ideal periphery, no read noise)
    np.testing.assert_allclose(cb.matvec(np.eye(6), t_r), w.T, rtol=1e-5)


def test_reads_cache_drifted_matrix_within_time_tolerance():
    cfg = DeviceConfig(drift=FIXED_NU)
    cb = Crossbar(cfg, A, np.random.default_rng(4))
    cb.matvec(X[:5], 3600.0)
    n0 = cb.counters["drift_refreshes"]
    cb.matvec(X[:5], 3600.0 * (1 + 1e-4))
    assert cb.counters["drift_refreshes"] == n0
    y = cb.matvec(X[:5], 2 * 3600.0)
    assert cb.counters["drift_refreshes"] == n0 + 1
    np.testing.assert_allclose(y, X[:5] @ cb.effective_weights(7200.0).T, rtol=1e-10)
    assert cb.counters["reads"] == 3 and cb.counters["macs"] == 15 * N * N


def test_time_and_shape_errors():
    cb = Crossbar(load_device("ideal"), A, np.random.default_rng(5), t_program_s=10.0)
    with pytest.raises(NeurodecorrError, match="precedes"):
        cb.matvec(X[:2], 5.0)
    with pytest.raises(NeurodecorrError, match="does not fit"):
        cb.matvec(np.ones((2, N + 1)), 20.0)
    with pytest.raises(NeurodecorrError, match="drift compensation"):
        Crossbar(load_device("ideal"), A, np.random.default_rng(5), drift_compensation="row")
    with pytest.raises(NeurodecorrError, match="NaN"):
        Crossbar(load_device("ideal"), A * np.nan, np.random.default_rng(5))


def test_same_seed_same_result_and_dtype_preserved():
    outs = [Crossbar(load_device("reram"), A, np.random.default_rng(6),
                     drift_compensation="column").matvec(X[:50].astype(np.float32), 60.0)
            for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0].dtype == np.float32


@pytest.mark.parametrize("name", ["pcm", "pcm-hermes", "pcm-onesided", "reram", "reram-cmo",
                                  "ecram", "capacitor"])
def test_every_preset_reads_and_writes(name):
    cb = Crossbar(load_device(name), A, np.random.default_rng(7), drift_compensation="global")
    y = cb.matvec(X[:64], 1.0)
    assert y.shape == (64, N) and np.all(np.isfinite(y))
    assert np.linalg.norm(y - Y[:64]) < 0.6 * np.linalg.norm(Y[:64])
    before = cb.effective_weights(2.0)
    cb.write_rank1(X[0], X[1], 0.05, 2.0)
    assert cb.counters["device_pulses"] > 0
    assert not np.array_equal(before, cb.effective_weights(2.0))
