"""Every device noise model's statistics against its closed form.

Tolerances are 5 standard errors of the estimator at the sample size used (SE of a mean
σ/√N, of a standard deviation ≈ σ/√(2N), of a fraction √(p(1−p)/N)), so a correct model fails
with probability far below 1e-5 per check.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from device_stats import close_mean, close_std
from scipy.stats import norm

from neurodecorr.devices import (
    ADCConfig,
    Crossbar,
    DACConfig,
    DeviceConfig,
    FaultsConfig,
    LogOrPolynomial,
    MappingConfig,
    ProgrammingConfig,
    PulsedConfig,
    ReadConfig,
    load_device,
)
from neurodecorr.devices.periphery import lsb, quantise
from neurodecorr.devices.programming import program
from neurodecorr.devices.pulsed import PulsedDevices
from neurodecorr.errors import NeurodecorrError

PCM = load_device("pcm")
G_MAX = 25.0
MAP = MappingConfig(g_min_uS=0.0, g_max_uS=G_MAX)


def plain(**groups) -> DeviceConfig:
    """Ideal devices and converters except for the groups given."""
    return DeviceConfig(mapping=MAP, **groups)


def constant_weights(g_norm: float, shape=(100, 1000)) -> np.ndarray:
    """Weights whose G⁺ targets g_norm·G_max (weight scale 1), G⁻ at G_min."""
    return np.full(shape, g_norm)




@pytest.mark.parametrize("g_norm", [0.2, 0.5, 0.7])
def test_programming_noise_recovered_from_1e5_programmings(g_norm):
    cfg = plain(programming=PCM.programming)
    cb = Crossbar(cfg, constant_weights(g_norm), np.random.default_rng(1), weight_scale=1.0)
    g_plus, _ = cb.conductances(0.0)
    c0, c1, c2 = 0.26348, 1.9650, -1.1731
    sigma = c0 + c1 * g_norm + c2 * g_norm**2
    close_mean(g_plus, g_norm * G_MAX, sigma)
    close_std(g_plus, sigma)


def test_finite_levels():
    prog = ProgrammingConfig(levels=9)
    target = np.random.default_rng(2).uniform(0, G_MAX, 100_000)
    g, _ = program(target, prog, MAP, np.random.default_rng(3))
    assert np.unique(g).size == 9
    step = G_MAX / 8
    assert np.max(np.abs(g - target)) <= step / 2 + 1e-12
    np.testing.assert_allclose(np.unique(g), np.linspace(0, G_MAX, 9), atol=1e-12)


def test_write_verify_fraction_outside_tolerance():
    sigma, tol, iters, n = 1.0, 1.0, 2, 100_000
    prog = ProgrammingConfig(noise_poly_uS=(sigma,), write_verify_iterations=iters,
                             write_verify_tolerance_uS=tol)
    target = np.full(n, 12.0)
    g, ops = program(target, prog, MAP, np.random.default_rng(4))
    p = 2 * norm.sf(tol / sigma)
    frac = np.mean(np.abs(g - target) > tol)
    expected = p ** (iters + 1)
    assert abs(frac - expected) <= 5 * math.sqrt(expected * (1 - expected) / n)
    mean_ops = n * (1 + p + p**2)
    assert abs(ops - mean_ops) <= 5 * math.sqrt(n * (p * (1 - p) + p**2 * (1 - p**2)))


def test_stuck_at_fractions_and_values():
    faults = FaultsConfig(stuck_g_min_frac=0.05, stuck_g_max_frac=0.1, stuck_random_frac=0.02)
    cfg = plain(faults=faults)
    cb = Crossbar(cfg, constant_weights(0.5, (200, 500)), np.random.default_rng(5),
                  weight_scale=1.0)
    g_plus, _ = cb.conductances(0.0)
    stuck_plus, _ = cb.stuck
    n = g_plus.size
    at_min = np.mean(stuck_plus & (g_plus == 0.0))
    at_max = np.mean(stuck_plus & (g_plus == G_MAX))
    for got, p in ((at_min, 0.05), (at_max, 0.1), (np.mean(stuck_plus), 0.17)):
        assert abs(got - p) <= 5 * math.sqrt(p * (1 - p) / n), (got, p)
    rand = g_plus[stuck_plus & (g_plus > 0) & (g_plus < G_MAX)]
    close_mean(rand, G_MAX / 2, G_MAX / math.sqrt(12))
    assert np.all(g_plus[~stuck_plus] == 12.5)


def folded_normal_moments(mu: float, sd: float) -> tuple[float, float]:
    mean = sd * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * sd**2)) + mu * (
        1 - 2 * norm.cdf(-mu / sd))
    second = mu**2 + sd**2
    return mean, math.sqrt(second - mean**2)


@pytest.mark.parametrize("g_norm", [0.05, 0.3, 1.0])
def test_drift_exponent_and_spread_recovered_from_g_of_t(g_norm):
    cfg = plain(drift=PCM.drift)
    cb = Crossbar(cfg, constant_weights(g_norm), np.random.default_rng(6), weight_scale=1.0)
    t1, t2, t0 = 100.0, 1e5, PCM.drift.t0_s
    g1 = cb.conductances(t1)[0]
    g2 = cb.conductances(t2)[0]
    nu_hat = -np.log(g2 / g1) / math.log((t2 + t0) / (t1 + t0))
    lg = math.log(g_norm)
    mu = min(max(-0.0155 * lg + 0.0244, 0.049), 0.1)
    sd = min(max(-0.0125 * lg - 0.0059, 0.008), 0.045)
    mean, spread = folded_normal_moments(mu, sd)
    close_mean(nu_hat, mean, spread)
    close_std(nu_hat, spread)
    # the absolute law: g(t) = g_prog ((t + t0)/t0)^(-nu) with the array's own nu
    np.testing.assert_allclose(g2, g_norm * G_MAX * ((t2 + t0) / t0) ** -cb.nu[0], rtol=1e-12)


FLICKER = ReadConfig(flicker_q_coeff=0.0088, flicker_q_exponent=0.65,
                     flicker_q=LogOrPolynomial(hi=0.2), flicker_t_read_s=250e-9)


def flicker_sigma_rel(g_norm: float, age: float) -> float:
    q = min(0.0088 / g_norm**0.65, 0.2)
    return q * math.sqrt(max(math.log((age + 250e-9) / 500e-9), 0.0))


@pytest.mark.parametrize("age", [1e-3, 1.0, 3600.0, 86400.0])
def test_one_over_f_read_noise_sigma(age):
    g_norm = 0.4
    cb = Crossbar(plain(read=FLICKER), constant_weights(g_norm), np.random.default_rng(7),
                  weight_scale=1.0)
    rel = cb.conductances(age)[0] / (g_norm * G_MAX) - 1.0
    sigma = flicker_sigma_rel(g_norm, age)
    close_mean(rel, 0.0, sigma)
    close_std(rel, sigma)


def test_one_over_f_noise_accumulates_with_independent_increments():
    g_norm, a1, a2 = 0.4, 1.0, 86400.0
    cb = Crossbar(plain(read=FLICKER), constant_weights(g_norm), np.random.default_rng(8),
                  weight_scale=1.0)
    r1 = cb.conductances(a1)[0] / (g_norm * G_MAX) - 1.0
    r2 = cb.conductances(a2)[0] / (g_norm * G_MAX) - 1.0
    close_std(r2, flicker_sigma_rel(g_norm, a2))
    # Brownian in the variance variable: corr(e1, e2) = s1/s2
    rho = flicker_sigma_rel(g_norm, a1) / flicker_sigma_rel(g_norm, a2)
    r = np.corrcoef(r1.ravel(), r2.ravel())[0, 1]
    assert abs(r - rho) <= 5 * (1 - rho**2) / math.sqrt(r1.size)


@pytest.mark.parametrize("scheme", ["differential", "reference"])
def test_per_read_noise_is_exact_in_distribution(scheme):
    sr = 0.5
    mapping = replace(MAP, scheme=scheme)
    cfg = DeviceConfig(mapping=mapping, read=ReadConfig(noise_uS=sr))
    rng = np.random.default_rng(9)
    w = rng.uniform(-1, 1, (3, 20))
    x = rng.normal(size=20)
    cb = Crossbar(cfg, w, rng, weight_scale=1.0)
    reads = cb.matvec(np.tile(x, (40_000, 1)), 0.0)
    if scheme == "differential":
        sigma = math.sqrt(2) * sr / G_MAX * np.linalg.norm(x)
    else:
        sigma = 2 * sr / G_MAX * math.sqrt(np.sum(x**2) + np.sum(x) ** 2)
    for i in range(3):
        close_mean(reads[:, i], float(w[i] @ x), sigma)
        close_std(reads[:, i], sigma)


def test_output_noise_sigma_in_normalised_units():
    cfg = plain(output=replace(PCM.output, noise_norm=0.1))
    w = np.array([[0.5, -0.25]])
    cb = Crossbar(cfg, w, np.random.default_rng(10), weight_scale=2.0)
    y = cb.matvec(np.tile([1.0, 2.0], (50_000, 1)), 0.0)[:, 0]
    close_mean(y, 0.0, 0.1 * 2.0)
    close_std(y, 0.1 * 2.0)


@pytest.mark.parametrize("bits", [1, 4, 8, 10])
def test_quantiser_within_half_lsb_inside_range_and_clips_outside(bits):
    r = 3.0
    v = np.random.default_rng(11).uniform(-r, r, 100_000)
    q = quantise(v, bits, r)
    assert np.max(np.abs(q - v)) <= lsb(bits, r) / 2 + 1e-12
    levels = np.unique(quantise(np.linspace(-r, r, 20_001), bits, r))
    assert levels.size == 2 ** bits - 1 if bits > 1 else levels.size == 3
    out = np.array([-10.0, -3.5, 3.5, 10.0])
    np.testing.assert_array_equal(quantise(out, bits, r), [-r, -r, r, r])


def test_adc_and_dac_in_the_read_path():
    rng = np.random.default_rng(12)
    w = rng.uniform(-1, 1, (16, 16))
    x = rng.uniform(-1, 1, (500, 16))
    adc = ADCConfig(bits=6, range_norm=4.0)
    cb = Crossbar(plain(adc=adc), w, rng, weight_scale=1.0)
    ideal = x @ w.T
    inside = np.abs(ideal) <= 4.0
    y = cb.matvec(x, 0.0)
    assert np.max(np.abs(y - ideal)[inside]) <= lsb(6, 4.0) / 2 + 1e-12
    assert (~inside).any()
    np.testing.assert_array_equal(y[~inside], 4.0 * np.sign(ideal[~inside]))
    dac = DACConfig(bits=5, range_norm=1.0, noise_management="abs_max")
    eye = np.eye(16)
    cb = Crossbar(plain(dac=dac), eye, rng, weight_scale=1.0)
    alpha = np.max(np.abs(x), axis=1, keepdims=True)
    err = np.abs(cb.matvec(x, 0.0) - x)
    assert np.all(err <= alpha * lsb(5, 1.0) / 2 + 1e-12)


# -- pulsed updates -----------------------------------------------------------------------

N_DEV = (100, 1000)


def one_pulse(cfg: PulsedConfig, w0: float, up: bool, seed: int = 13) -> np.ndarray:
    dev = PulsedDevices(cfg, N_DEV, np.random.default_rng(seed))
    w = np.full(N_DEV, w0)
    return dev.pulse(w, np.full(N_DEV, up), np.random.default_rng(seed + 1)) - w


def expected_factor(cfg: PulsedConfig, w: float, up: bool) -> float:
    """f_d(w) written out independently of the implementation (bounds ±1)."""
    if cfg.model == "constant_step":
        return 1.0
    if cfg.model in ("linear_step", "soft_bounds"):
        g = 1.0 if cfg.model == "soft_bounds" else (cfg.gamma_up if up else cfg.gamma_down)
        return max(1 - g * w / (1.0 if up else -1.0), 0.0)
    if cfg.model == "exp_step":
        z = 2 * cfg.exp_a * w / 2.0 + cfg.exp_b
        if up:
            return max(1 - cfg.exp_a_up * math.exp(cfg.exp_gamma_up * z), 0.0)
        return max(1 - cfg.exp_a_down * math.exp(-cfg.exp_gamma_down * z), 0.0)
    gamma = cfg.gamma_up if up else cfg.gamma_down
    return ((1 - w) if up else (w + 1)) ** gamma


MODELS = [
    PulsedConfig(model="constant_step", up_down=0.2),
    PulsedConfig(model="linear_step", gamma_up=0.1153, gamma_down=0.5085),
    PulsedConfig(model="soft_bounds", up_down=-0.1),
    PulsedConfig(model="exp_step", exp_a=-0.5, exp_b=-0.5, exp_gamma_up=5.0,
                 exp_gamma_down=5.0, exp_a_up=-1.18445, exp_a_down=-0.081404),
    PulsedConfig(model="pow_step", gamma_up=1.5, gamma_down=0.7),
]


@pytest.mark.parametrize("base", MODELS, ids=lambda c: c.model)
@pytest.mark.parametrize("additive", [False, True])
@pytest.mark.parametrize(("w0", "up"), [(0.3, True), (0.3, False), (-0.6, True)])
def test_per_pulse_step_mean_and_spread(base, additive, w0, up):
    if base.model == "exp_step" and additive:
        # aihwkit's ExpStepDevice draws multiplicative noise only (rpu_expstep_device.cpp)
        with pytest.raises(NeurodecorrError, match="c2c_additive: exp_step noise is multipl"):
            replace(base, c2c_additive=True)
        return
    cfg = replace(base, dw_min_norm=0.002, c2c_rel=0.2, c2c_additive=additive)
    delta = one_pulse(cfg, w0, up)
    # aihwkit rpu_pulsed_device.cpp: up scaled by 1 + min(β, 0), down by 1 − max(β, 0)
    beta = cfg.up_down
    scale = 0.002 * (1 + min(beta, 0.0) if up else 1 - max(beta, 0.0))
    f = expected_factor(cfg, w0, up)
    mean = (1 if up else -1) * scale * f
    spread = scale * 0.2 * (1.0 if additive else f)
    close_mean(delta, mean, spread)
    close_std(delta, spread)


def test_device_to_device_step_variation():
    cfg = PulsedConfig(model="constant_step", dw_min_norm=0.001, d2d_dw_min_rel=0.3)
    delta = one_pulse(cfg, 0.0, True)
    close_mean(delta, 0.001, 0.0003)
    close_std(delta, 0.0003)
    dev = PulsedDevices(replace(cfg, d2d_bounds_rel=0.1, w_max_norm=0.6),
                        N_DEV, np.random.default_rng(0))
    close_mean(dev.b_max, 0.6, 0.06)
    close_std(dev.b_max, 0.06)


def test_bounds_clip_and_soft_bounds_saturate():
    cfg = PulsedConfig(model="soft_bounds", dw_min_norm=0.05, w_max_norm=0.5)
    dev = PulsedDevices(cfg, (1, 1), np.random.default_rng(0))
    w = np.zeros((1, 1))
    for _ in range(400):
        w = dev.pulse(w, np.ones((1, 1), bool), np.random.default_rng(1))
    assert 0.49 < w[0, 0] <= 0.5
    cfg = PulsedConfig(model="constant_step", dw_min_norm=0.3, w_max_norm=0.5)
    dev = PulsedDevices(cfg, (1, 1), np.random.default_rng(0))
    w = dev.pulse(np.full((1, 1), 0.4), np.ones((1, 1), bool), np.random.default_rng(1))
    assert w[0, 0] == 0.5


def test_stochastic_rank1_write_has_mean_lr_x_d():
    rng = np.random.default_rng(14)
    n_out, n_in, scale, lr, repeats = 6, 5, 2.0, 0.01, 1500
    x = rng.uniform(-1, 1, n_in)
    d = rng.uniform(-1, 1, n_out)
    cfg = plain(pulsed=PulsedConfig(model="constant_step", dw_min_norm=0.001, c2c_rel=0.3))
    cb = Crossbar(cfg, np.zeros((n_out, n_in)), rng, weight_scale=scale)
    steps = np.empty((repeats, n_out, n_in))
    before = cb.effective_weights(0.0)
    for k in range(repeats):
        # alternate the sign so the weights random-walk around zero, far from the bounds
        sign = 1.0 if k % 2 == 0 else -1.0
        cb.write_rank1(x, d, sign * lr, float(k + 1))
        after = cb.effective_weights(float(k + 1))
        steps[k] = sign * (after - before)
        before = after
    mean = steps.mean(axis=0)
    se = steps.std(axis=0, ddof=1) / math.sqrt(repeats)
    expected = lr * np.outer(d, x)
    assert np.all(np.abs(mean - expected) <= 5 * se + 1e-12)
    assert cb.counters["writes"] == repeats and cb.counters["device_pulses"] > 0


def test_write_noise_is_apparent_not_hidden():
    cfg = plain(pulsed=PulsedConfig(model="constant_step", dw_min_norm=0.01,
                                    write_noise_rel=2.0))
    cb = Crossbar(cfg, np.zeros((200, 200)), np.random.default_rng(15), weight_scale=1.0)
    cb.write_rank1(np.ones(200), np.ones(200), 0.01, 1.0)
    first = cb.effective_weights(1.0)
    # every device got exactly one +dw_min pulse (p = 1); apparent = hidden + N(0, 2 dw_min)
    close_mean(first, 0.01, 0.02)
    close_std(first, 0.02)
    cb.write_rank1(np.ones(200), np.ones(200), 0.01, 2.0)
    second = cb.effective_weights(2.0)
    # the hidden weight advanced by exactly one more step; only the fresh write noise is seen
    close_mean(second, 0.02, 0.02)
    close_std(second, 0.02)
    assert abs(np.corrcoef(first.ravel(), second.ravel())[0, 1]) < 5 / 200
