"""The aihwkit-style models added in issue 14, each against its closed form or an independent
solve: nodal IR drop, bound management, output non-linearity and asymmetry, input noise,
device-to-device distributions, the piecewise step device."""

from __future__ import annotations

import math

import numpy as np
import pytest
from device_stats import close_mean, close_std

from neurodecorr.devices import (
    ADCConfig,
    Crossbar,
    DACConfig,
    DeviceConfig,
    IRDropConfig,
    MappingConfig,
    OutputConfig,
    PulsedConfig,
    ReadConfig,
)
from neurodecorr.devices.ir_drop import effective_conductances, effective_weights
from neurodecorr.devices.periphery import ir_drop, lsb
from neurodecorr.devices.pulsed import PulsedDevices

# -- nodal IR drop ----------------------------------------------------------------------------

def dense_line_current(g: np.ndarray, x: np.ndarray, g_wire: float) -> float:
    """Kirchhoff's law on one output line written out densely and solved with numpy."""
    n = g.size
    m = np.zeros((n, n))
    for j in range(n):
        m[j, j] = g[j] + (2 * g_wire if j < n - 1 else g_wire)
        if j > 0:
            m[j, j - 1] = m[j - 1, j] = -g_wire
    v = np.linalg.solve(m, g * x)
    return float(np.sum(g * (x - v)))


def test_nodal_solve_matches_a_dense_solve():
    rng = np.random.default_rng(0)
    g = rng.uniform(0, 1, (5, 40))
    x = rng.uniform(-1, 1, 40)
    g_wire = 50.0
    eff = effective_conductances(g, g_wire)
    for i in range(5):
        assert eff[i] @ x == pytest.approx(dense_line_current(g[i], x, g_wire), rel=1e-10)
    w = rng.uniform(-1, 1, (3, 40))
    cfg = IRDropConfig(model="nodal", scale=1.0, g_ratio=g_wire)
    np.testing.assert_allclose(effective_weights(w, cfg),
                               effective_conductances(np.maximum(w, 0), g_wire)
                               - effective_conductances(np.maximum(-w, 0), g_wire))


@pytest.mark.parametrize("n", [64, 256])
def test_nodal_drop_agrees_with_the_analytic_model_for_small_drops(n):
    """Uniform weights and inputs with a small drop (a = n² G x / g_w = 1e-3): the nodal drop
    equals the first-order closed form Σ_j G V_j, V_j = (G x/g_w) Σ_{m≤j} (n − m), to O(a),
    and aihwkit's analytic model (its cubic, linear for small a) to O(a) + O(1/n): the analytic
    profile 1 − (1 − j/n)² is the continuum limit of the same sum (relative gap 2.25/n)."""
    g0, x0 = 0.5, 1.0
    g_wire = n * n * g0 * x0 / 1e-3
    w = np.full((2, n), g0)
    x = np.full((1, n), x0)
    ideal = float(x[0] @ w[0])
    nodal = float((x @ effective_weights(w, IRDropConfig(model="nodal", scale=1.0,
                                                           g_ratio=g_wire)).T)[0, 0])
    j = np.arange(n)
    v = (g0 * x0 / g_wire) * ((j + 1) * n - j * (j + 1) / 2)
    first_order = float(np.sum(g0 * v))
    assert ideal - nodal == pytest.approx(first_order, rel=3e-3)
    analytic = float(ir_drop(x, w, np.abs(w), x @ w.T, IRDropConfig(scale=1.0,
                                                                     g_ratio=g_wire))[0, 0])
    assert ideal - analytic == pytest.approx(ideal - nodal, rel=2.25 / n + 3e-3)


def test_crossbar_reads_through_the_nodal_matrix():
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (6, 30))
    x = rng.uniform(-1, 1, (4, 30))
    cfg = DeviceConfig(ir_drop=IRDropConfig(model="nodal", scale=2.0, g_ratio=400.0))
    cb = Crossbar(cfg, w, np.random.default_rng(2), weight_scale=1.0)
    expected = x @ effective_weights(w, IRDropConfig(model="nodal", scale=1.0, g_ratio=200.0)).T
    np.testing.assert_allclose(cb.matvec(x, 0.0), expected, rtol=1e-12)


# -- bound management, output stage, input noise ----------------------------------------------

def test_iterative_bound_management_recovers_clipped_outputs():
    """Σ of 64 ones is 64 > the ADC range 10: aihwkit's iterative bound management halves the
    input until the output fits (3 halvings: 8 < 10) and scales back."""
    n = 64
    w = np.ones((2, n))
    x = np.ones((3, n))
    x[2] *= 0.1  # a second sample: abs-max scales it to the same x̂
    x[1, :60] = 0.0  # Σ = 4 fits at once
    dac = DACConfig(bits=8, range_norm=1.0)
    plain = DeviceConfig(dac=dac, adc=ADCConfig(bits=8, range_norm=10.0))
    managed = DeviceConfig(dac=dac, adc=ADCConfig(bits=8, range_norm=10.0,
                                                  bound_management="iterative"))
    y_plain = Crossbar(plain, w, np.random.default_rng(3), weight_scale=1.0).matvec(x, 0.0)
    cb = Crossbar(managed, w, np.random.default_rng(3), weight_scale=1.0)
    y = cb.matvec(x, 0.0)
    np.testing.assert_allclose(y_plain[0], 10.0)
    step = lsb(8, 10.0)
    np.testing.assert_allclose(y, x @ w.T, atol=8 * step / 2)
    assert cb.counters["reads"] == 4  # one pass, then three for the clipped samples


def test_output_nonlinearity_and_asymmetry():
    out = OutputConfig(nonlinearity=0.5, asymmetry=0.2)
    cfg = DeviceConfig(output=out)
    w = np.array([[1.0, 0.5], [-0.7, 0.2]])
    x = np.random.default_rng(4).uniform(-2, 2, (50, 2))
    y = Crossbar(cfg, w, np.random.default_rng(5), weight_scale=1.0).matvec(x, 0.0)
    lin = x @ w.T
    curved = lin / (1 + np.abs(0.5 * lin))  # no ADC: bound 1, c = 0.5
    np.testing.assert_allclose(y, np.where(curved < 0, 0.8 * curved, curved), rtol=1e-12)


def test_input_noise_after_the_dac():
    w = np.array([[0.3, -0.4, 0.5, 0.1]])
    cfg = DeviceConfig(dac=DACConfig(bits=16, range_norm=1.0, noise_norm=0.05))
    cb = Crossbar(cfg, w, np.random.default_rng(6), weight_scale=1.0)
    x = np.array([1.0, -0.5, 0.25, 0.0])
    y = cb.matvec(np.tile(x, (40_000, 1)), 0.0)[:, 0]
    sd = 0.05 * np.linalg.norm(w)  # α = max|x| = 1
    close_mean(y, float(w[0] @ x), sd)
    close_std(y, sd)


# -- device-to-device spread and the piecewise step --------------------------------------------

def test_gamma_and_lognormal_step_spread():
    shape = (200, 500)
    gamma = PulsedDevices(PulsedConfig(d2d_distribution="gamma", d2d_dw_min_rel=0.8),
                          shape, np.random.default_rng(7))
    gain = gamma.dw_up / 0.001
    assert gain.min() > 0
    close_mean(gain, 1.0, 0.8)
    # the sd of a sample sd of a Gamma(k, θ) needs its kurtosis (3 + 6/k): SE² = σ²(2 + 6/k)/(4N)
    k = 1 / 0.8**2
    se = 0.8 * math.sqrt((2 + 6 / k) / (4 * gain.size))
    assert abs(gain.std(ddof=1) - 0.8) <= 5 * se
    lognormal = PulsedDevices(PulsedConfig(d2d_distribution="lognormal", d2d_dw_min_rel=0.8),
                              shape, np.random.default_rng(8))
    log_gain = np.log(lognormal.dw_up / 0.001)
    close_mean(log_gain, 0.0, 0.8)
    close_std(log_gain, 0.8)


def test_piecewise_step_interpolates_its_nodes():
    cfg = PulsedConfig(model="piecewise_step", dw_min_norm=0.01,
                       piecewise_up=(1.0, 0.5, 0.0), piecewise_down=(0.0, 0.5, 1.0))
    dev = PulsedDevices(cfg, (1, 4), np.random.default_rng(9))
    w = np.array([[-1.0, -0.5, 0.5, 0.9]])
    up = dev.pulse(w, np.ones((1, 4), bool), np.random.default_rng(10)) - w
    down = dev.pulse(w, np.zeros((1, 4), bool), np.random.default_rng(10)) - w
    # nodes at w = −1, 0, 1: up 1 → 0.5 → 0, down 0 → 0.5 → 1
    np.testing.assert_allclose(up[0], 0.01 * np.array([1.0, 0.75, 0.25, 0.05]), atol=1e-15)
    np.testing.assert_allclose(down[0], -0.01 * np.array([0.0, 0.25, 0.75, 0.95]), atol=1e-15)


# -- the one-sided unit cell with refresh ------------------------------------------------------

def one_sided(refresh_every: int = 0) -> DeviceConfig:
    return DeviceConfig(pulsed=PulsedConfig(dw_min_norm=0.05, unit_cell="one_sided",
                                            refresh_every=refresh_every))


def test_one_sided_cell_only_potentiates():
    """Up pulses grow G⁺, down pulses grow G⁻, each by dw ΔG (constant step, p = 1)."""
    cb = Crossbar(one_sided(), np.full((1, 1), 0.2), np.random.default_rng(11), weight_scale=1.0)
    for sign, expected in ((1.0, (0.25, 0.0)), (-1.0, (0.25, 0.05)), (-1.0, (0.25, 0.10))):
        cb.write_rank1(np.ones(1), np.ones(1), sign * 0.05, 0.0)
        g_plus, g_minus = cb.conductances(0.0)
        np.testing.assert_allclose((g_plus[0, 0] / 25.0, g_minus[0, 0] / 25.0), expected,
                                   atol=1e-12)
    assert cb.effective_weights(0.0)[0, 0] == pytest.approx(0.15)
    # a read after a write sees it (the cached drifted matrix is rebuilt)
    fresh = Crossbar(one_sided(), np.full((1, 1), 0.2), np.random.default_rng(11),
                     weight_scale=1.0)
    assert fresh.matvec(np.ones(1), 0.0)[0] == pytest.approx(0.2)
    fresh.write_rank1(np.ones(1), np.ones(1), 0.05, 0.0)
    assert fresh.matvec(np.ones(1), 0.0)[0] == pytest.approx(0.25)


def test_one_sided_refresh_resets_the_pair_and_keeps_the_weight():
    """aihwkit's criterion: larger device > 0.75, smaller > 0.25 of the range -> both reset,
    the larger programmed to the difference (noise-free programming here)."""
    cb = Crossbar(one_sided(refresh_every=1), np.array([[0.7, 0.1]]),
                  np.random.default_rng(12), weight_scale=1.0)
    x = np.array([1.0, 1.0])
    for _ in range(2):  # G⁺ of the first device 0.7 -> 0.8
        cb.write_rank1(x, np.ones(1), 0.05, 0.0)
    assert cb.counters["unit_cell_refreshes"] == 0
    for _ in range(6):  # G⁻ 0 -> 0.3: the first pair (0.8, 0.3) meets the criterion
        cb.write_rank1(x, -np.ones(1), 0.05, 0.0)
    assert cb.counters["unit_cell_refreshes"] == 1
    g_plus, g_minus = (g / 25.0 for g in cb.conductances(0.0))
    np.testing.assert_allclose((g_plus[0, 0], g_minus[0, 0]), (0.5, 0.0), atol=1e-12)
    # the second pair (0.2, 0.3) stays as it was
    np.testing.assert_allclose((g_plus[0, 1], g_minus[0, 1]), (0.2, 0.3), atol=1e-12)


def test_state_dependent_read_noise_of_the_reference_scheme():
    """w = 2 (G − G_ref)/ΔG, σ²(G) = σ_r² G/G_max per device:
    Var(y) = (2/ΔG)² σ_r²/G_max (Σ_j G_j x_j² + G_ref (Σ_j x_j)²)."""
    mapping = MappingConfig(scheme="reference", g_min_uS=0.0, g_max_uS=25.0)
    cfg = DeviceConfig(mapping=mapping, read=ReadConfig(model="state_dependent", noise_uS=0.5))
    w = np.array([[0.6, -0.2, 0.1, 0.0]])
    cb = Crossbar(cfg, w, np.random.default_rng(6), weight_scale=1.0)
    x = np.array([1.0, -0.5, 0.8, 0.3])
    y = cb.matvec(np.tile(x, (50_000, 1)), 0.0)[:, 0]
    g = 12.5 + 12.5 * w[0]
    var = (2 / 25.0) ** 2 * 0.5**2 / 25.0 * (np.sum(g * x**2) + 12.5 * x.sum() ** 2)
    close_mean(y, float(w[0] @ x), math.sqrt(var))
    close_std(y, math.sqrt(var))


def test_read_asymmetry_negative_inputs_see_scaled_weights():
    """aihwkit w_read_asymmetry_dtod: y = W x⁺ + (W ∘ a) x⁻, a_ij = 1 + σ ξ fixed per device."""
    rng = np.random.default_rng(13)
    w = rng.uniform(-1, 1, (200, 500))
    cfg = DeviceConfig(read=ReadConfig(polarity_d2d_rel=0.1))
    cb = Crossbar(cfg, w, np.random.default_rng(14), weight_scale=1.0)
    close_mean(cb.polarity, 1.0, 0.1)
    close_std(cb.polarity, 0.1)
    x = rng.uniform(-1, 1, (7, 500))
    expected = np.maximum(x, 0) @ w.T + np.minimum(x, 0) @ (w * cb.polarity).T
    np.testing.assert_allclose(cb.matvec(x, 0.0), expected, rtol=1e-10, atol=1e-12)
