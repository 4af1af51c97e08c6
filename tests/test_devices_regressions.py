"""Regression tests for the write path and noise models, each against its closed form
(issue 14: bugs found by measuring against aihwkit's source).

Statistical tolerances are 5 standard errors at the sample size used, as in
``test_devices_statistics.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from device_stats import close_mean, close_std

from neurodecorr.devices import (
    Crossbar,
    DeviceConfig,
    DriftConfig,
    IRDropConfig,
    LogOrPolynomial,
    MappingConfig,
    ProgrammingConfig,
    PulsedConfig,
    ReadConfig,
    load_device,
)
from neurodecorr.devices.drift import DeviceArray
from neurodecorr.devices.periphery import ir_drop
from neurodecorr.devices.pulsed import PulsedDevices
from neurodecorr.errors import NeurodecorrError

DAY = 86400.0
NU, T0 = 0.06, 20.0
FIXED_NU = DriftConfig(t0_s=T0, nu_mean=LogOrPolynomial(intercept=NU, lo=NU, hi=NU))


def drift(age: float) -> float:
    return ((age + T0) / T0) ** -NU




def one_pulse_write(cb: Crossbar, t_s: float, sign: float = 1.0) -> None:
    """Exactly one pulse on device (0, 0): K = lr |x| |d| / dw_min = 1, so BL = 1 and p = 1."""
    n_out, n_in = cb.shape
    x, d = np.zeros(n_in), np.zeros(n_out)
    x[0], d[0] = 1.0, 1.0
    cb.write_rank1(x, d, sign * cb.config.pulsed.dw_min_norm * cb.scale, t_s)


# -- 1. the reference scheme writes against the drifted reference ---------------------------

@pytest.mark.parametrize("scheme", ["reference", "differential"])
def test_write_after_drift_moves_the_weight_by_one_step(scheme):
    dw = 1e-4
    cfg = DeviceConfig(mapping=MappingConfig(scheme=scheme), drift=FIXED_NU,
                       pulsed=PulsedConfig(dw_min_norm=dw))
    w0 = np.array([[0.3, -0.2], [0.1, 0.5]])
    cb = Crossbar(cfg, w0, np.random.default_rng(0), weight_scale=1.0)
    before = cb.effective_weights(DAY)
    # every device, the reference included, drifts by the same factor
    np.testing.assert_allclose(before, w0 * drift(DAY), rtol=1e-12)
    one_pulse_write(cb, DAY)
    after = cb.effective_weights(DAY)
    expected = before.copy()
    expected[0, 0] += dw
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-12)


# -- 2. the drift clock does not restart on writes ------------------------------------------

def test_zero_net_rewrites_leave_a_device_as_if_untouched():
    mapping = MappingConfig()
    g = np.full((50, 50), 20.0)
    rng = np.random.default_rng(1)
    pcm = load_device("pcm")
    kept = DeviceArray(g.copy(), 0.0, np.zeros(g.shape, bool), g, mapping, pcm.drift,
                       ReadConfig(), rng)
    rewritten = DeviceArray(g.copy(), 0.0, np.zeros(g.shape, bool), g, mapping, pcm.drift,
                            ReadConfig(), np.random.default_rng(1))
    every = np.ones(g.shape, bool)
    for t in range(1, 1001):
        rewritten.rewrite(every, rewritten.drifted(float(t)), float(t))
    np.testing.assert_allclose(rewritten.drifted(1000.0), kept.drifted(1000.0), rtol=1e-12)


def test_alternating_writes_follow_the_closed_form_and_do_not_compound():
    """One device written +dw, −dw, ... once a second for 1000 s:
    w(T) = D(T) (w0 + dw Σ_k s_k / D(t_k)), with D the drift factor of the device's age."""
    dw = 1e-4
    cfg = DeviceConfig(drift=FIXED_NU, pulsed=PulsedConfig(dw_min_norm=dw))
    cb = Crossbar(cfg, np.full((1, 1), 0.5), np.random.default_rng(2), weight_scale=1.0)
    total = 0.0
    for k in range(1, 1001):
        sign = 1.0 if k % 2 else -1.0
        one_pulse_write(cb, float(k), sign)
        total += sign * dw / drift(float(k))
    got = cb.effective_weights(1000.0)[0, 0]
    assert got == pytest.approx(drift(1000.0) * (0.5 + total), rel=1e-9)
    # the untouched value is 0.5 D(1000 s) = 0.396; restarting the clock at every write made it
    # ((1 + t0)/t0)^(-1000 ν) 0.5 = 0.027
    assert got == pytest.approx(0.5 * drift(1000.0), abs=dw * NU * 10)


# -- 3. and 4. drift compensation: probes that cannot clip, baseline kept across writes -----

@pytest.fixture(scope="module")
def wide_pcm():
    rng = np.random.default_rng(3)
    n = 256
    w = rng.normal(size=(n, n)) / math.sqrt(n)
    return load_device("pcm+periphery-ideal"), load_device("pcm"), w


def test_compensation_gain_is_the_readout_ratio_and_survives_writes(wide_pcm):
    ideal_periph, _, w = wide_pcm
    cb = Crossbar(ideal_periph, w, np.random.default_rng(4), drift_compensation="global")
    gain = cb.compensation_gain(DAY)[0]
    # the closed form of a global compensation: Σ|P W(0)ᵀ| / Σ|P W(t)ᵀ| over the probes P, up
    # to the (state-dependent) per-read noise of the probe reads
    p = cb._probes
    ratio = (np.abs(p @ cb.effective_weights(0.0).T).sum()
             / np.abs(p @ cb.effective_weights(DAY).T).sum())
    assert gain == pytest.approx(ratio, rel=2e-3)
    one_pulse_write(cb, DAY)
    one_pulse_write(cb, DAY)
    # the baseline is updated by the known change (2 dw on one entry of 65536), not re-measured
    assert cb.compensation_gain(DAY)[0] == pytest.approx(gain, rel=1e-3)


def test_probes_cannot_clip_the_adc_and_track_the_drift(wide_pcm):
    """Groups of ⌊R⌋ = 10 inputs: |y| ≤ 10 max|w| < R; ±1 probes on all 256 inputs clipped
    28 % of their outputs and gave a gain of 1.30 against 1.50."""
    _, pcm, w = wide_pcm
    cb = Crossbar(pcm, w, np.random.default_rng(5), drift_compensation="global")
    assert np.all(np.count_nonzero(cb._probes, axis=1) <= 10)
    out = cb._probe_outputs(cb._refresh(DAY)) / cb.scale
    assert np.max(np.abs(out)) < pcm.adc.range_norm
    ideal = np.abs(cb.effective_weights(0.0)).sum() / np.abs(cb.effective_weights(DAY)).sum()
    assert cb.compensation_gain(DAY)[0] == pytest.approx(ideal, rel=0.03)


# -- 5. up/down asymmetry in aihwkit's convention --------------------------------------------

def test_reram_up_down_ratio_is_aihwkits():
    cfg = replace(load_device("reram").pulsed, d2d_dw_min_rel=0.0, d2d_up_down=0.0,
                  d2d_bounds_rel=0.0)
    dev = PulsedDevices(cfg, (2, 2), np.random.default_rng(6))
    # rpu_pulsed_device.cpp: up = dw_min (1 + min(β, 0)), down = dw_min (1 − max(β, 0))
    np.testing.assert_allclose(dev.dw_up, 0.00135)
    np.testing.assert_allclose(dev.dw_down, 0.00135 * (1 - 0.259359))
    assert dev.dw_up[0, 0] / dev.dw_down[0, 0] == pytest.approx(1.350, abs=5e-4)


# -- 6. exp-step cycle-to-cycle noise is multiplicative ---------------------------------------

def exp_down_factor(cfg: PulsedConfig, w: float) -> float:
    z = 2 * cfg.exp_a * w / 2.0 + cfg.exp_b
    return max(1 - cfg.exp_a_down * math.exp(-cfg.exp_gamma_down * z), 0.0)


def test_reram_exp_step_noise_is_multiplicative():
    cfg = replace(load_device("reram").pulsed, d2d_dw_min_rel=0.0, d2d_up_down=0.0,
                  d2d_bounds_rel=0.0)
    shape = (200, 500)
    dev = PulsedDevices(cfg, shape, np.random.default_rng(7))
    w = np.full(shape, 0.8)
    step = dev.pulse(w, np.zeros(shape, bool), np.random.default_rng(8)) - w
    mean_step = 0.00135 * (1 - 0.259359) * exp_down_factor(cfg, 0.8)
    sd = 5.0 * mean_step  # rpu_expstep_device.cpp: y (1 + dw_min_std ξ) scale_down
    assert sd == pytest.approx(0.0416, abs=2e-4)
    # the bound at −1 is far: 5 σ below the mean is −0.21 + 0.8 > −1
    close_mean(step, -mean_step, sd)
    close_std(step, sd)


def test_exp_step_complex_noise():
    """aihwkit's dw_min_std_add / dw_min_std_slope: sd = σ (|Δw| + add + slope |w|)."""
    cfg = PulsedConfig(model="exp_step", dw_min_norm=0.01, c2c_rel=0.6, c2c_add_norm=0.042,
                       c2c_slope=0.108, exp_a=-0.5, exp_b=-0.5, exp_gamma_up=2.5,
                       exp_gamma_down=2.5, exp_a_up=-0.5, exp_a_down=-0.5)
    shape = (200, 500)
    dev = PulsedDevices(cfg, shape, np.random.default_rng(9))
    w = np.full(shape, 0.3)
    step = dev.pulse(w, np.ones(shape, bool), np.random.default_rng(10)) - w
    z = 2 * -0.5 * 0.3 / 2.0 - 0.5
    mean_step = 0.01 * (1 + 0.5 * math.exp(2.5 * z))
    sd = 0.6 * (mean_step + 0.042 + 0.108 * 0.3)
    # far from the bounds: clipping is below 1e-9 of the draws
    close_mean(step, mean_step, sd)
    close_std(step, sd)


# -- 7. the smaller ones ------------------------------------------------------------------

def test_flicker_clock_includes_t0_under_power_law_drift():
    """aihwkit PCMLikeNoiseModel: t = t_inference + t0 in both the drift and the 1/f term."""
    g_norm, age = 0.4, 3600.0
    read = ReadConfig(flicker_q_coeff=0.0088, flicker_q_exponent=0.65,
                      flicker_q=LogOrPolynomial(hi=0.2))
    cfg = DeviceConfig(read=read, drift=FIXED_NU)
    cb = Crossbar(cfg, np.full((100, 1000), g_norm), np.random.default_rng(11),
                  weight_scale=1.0)
    rel = cb.conductances(age)[0] / (g_norm * 25.0 * drift(age)) - 1.0
    q = min(0.0088 / g_norm**0.65, 0.2)
    sigma = q * math.sqrt(math.log((age + T0 + 250e-9) / 500e-9))
    close_mean(rel, 0.0, sigma)
    close_std(rel, sigma)


def test_programming_noise_is_clamped_at_zero_only():
    """At g = G_max the programmed conductance is unbiased with σ_prog(1) (aihwkit clamps at 0)."""
    prog = load_device("pcm").programming
    cfg = DeviceConfig(programming=prog)
    cb = Crossbar(cfg, np.full((100, 1000), 1.0), np.random.default_rng(12), weight_scale=1.0)
    g = cb.conductances(0.0)[0]
    sigma = 0.26348 + 1.9650 - 1.1731
    close_mean(g, 25.0, sigma)
    close_std(g, sigma)


def test_ir_drop_scale_multiplies_the_drop():
    """aihwkit applyIrDrop: y − ir_drop · c(a) Σ_j w_ij x_j (1 − (1 − j/n)²), a without scale."""
    rng = np.random.default_rng(13)
    n = 64
    w = rng.uniform(-1, 1, (8, n))
    x = rng.uniform(-1, 1, (5, n))
    y = x @ w.T
    a = (n / 5.714e5) * (np.abs(x) @ np.abs(w).T)
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    profile = 1.0 - (1.0 - np.arange(n) / n) ** 2
    for scale in (1.0, 100.0):
        got = ir_drop(x, w, np.abs(w), y, IRDropConfig(scale=scale))
        np.testing.assert_allclose(got, y - scale * c * ((x * profile) @ w.T), rtol=1e-12)


def test_device_to_device_bounds_are_not_clipped():
    cfg = PulsedConfig(d2d_bounds_rel=0.3)
    dev = PulsedDevices(cfg, (200, 500), np.random.default_rng(14))
    # |1 + 0.3 ξ|: a folded normal whose mean is 1 to within 1e-12 (P(1 + 0.3ξ < 0) ~ 4e-4)
    close_mean(dev.b_max, 1.0, 0.3)
    close_std(dev.b_max, 0.3)
    assert dev.b_max.max() > 1.5


# -- configs validate on construction -------------------------------------------------------

def test_replace_with_a_bad_value_raises_one_line():
    cfg = load_device("pcm")
    with pytest.raises(NeurodecorrError, match=r"^\[adc\] bits: must lie in \[1, 32\], got -3$"):
        replace(cfg, adc=replace(cfg.adc, bits=-3))
    with pytest.raises(NeurodecorrError, match=r"\[drift\] t0_s: must be > 0"):
        replace(cfg.drift, t0_s=0.0)
    with pytest.raises(NeurodecorrError,
                       match=r"\[programming\] noise_poly_uS: expected a list of finite"):
        ProgrammingConfig(noise_poly_uS=(float("nan"),))
    with pytest.raises(NeurodecorrError, match=r"\[dac\] bits: expected an integer"):
        replace(cfg.dac, bits=2.5)
    with pytest.raises(NeurodecorrError, match=r"\[adc\]: expected a ADCConfig, got DACConfig"):
        replace(cfg, adc=cfg.dac)
