"""Every preset's curves at point values of its published fit, the source named in each test.

Point values are computed here from the source's formula, written out independently of the
implementation, and checked both on the configuration's curves and, where a statistic is
involved, on devices sampled from the preset (5 standard errors at the sample size).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from device_stats import close_mean, close_std

from neurodecorr.devices import Crossbar, DeviceConfig, load_device
from neurodecorr.devices.read_noise import Flicker

# -- pcm-hermes: aihwkit src/aihwkit/inference/noise/hermes.py, HermesNoiseModel(num_devices=2)

def hermes_sigma_prog(g: float) -> float:
    return 0.16603222 + 4.71806468 * g - 8.48101252 * g**2 + 4.68961419 * g**3


def hermes_nu_mean(g: float) -> float:
    if g < 0.0945:
        return min(max(-0.0387 * math.log(g) - 0.0182, 0.0720), 0.13)
    return -0.0436 * g**2 - 0.0126 * g + 0.0736


def hermes_nu_std(g: float) -> float:
    if g < 0.3055:
        return min(max(-0.0117 * math.log(g) - 0.0057, 0.0091), 0.04)
    return -0.0118 * g**2 + 0.0093 * g + 0.0073


def hermes_q(g: float) -> float:
    if g < 0.16:
        return min(max(-0.0117 * math.log(g) - 0.0069, 0.015), 0.04)
    return 0.0069 * g**3 - 0.0280 * g**2 + 0.0211 * g + 0.0123


HERMES = load_device("pcm-hermes")


@pytest.mark.parametrize("g", [0.05, 0.2, 0.5, 1.0])
def test_hermes_programming_noise(g):
    assert HERMES.programming.sigma_uS(np.array(g)) == pytest.approx(hermes_sigma_prog(g))
    if g == 0.2:
        assert hermes_sigma_prog(g) == pytest.approx(0.808, abs=5e-4)


@pytest.mark.parametrize("g", [0.02, 0.1, 0.2, 0.5, 1.0])
def test_hermes_drift_exponent_curves(g):
    d = HERMES.drift
    assert d.nu_mean(np.array(g)) == pytest.approx(hermes_nu_mean(g), abs=1e-12)
    assert d.nu_std(np.array(g)) == pytest.approx(hermes_nu_std(g), abs=1e-12)
    if g == 0.1:
        assert hermes_nu_mean(g) == pytest.approx(0.072, abs=5e-4)
    assert d.t0_s == 300.0 and HERMES.read.flicker_t_read_s == 512e-9


@pytest.mark.parametrize("g", [0.05, 0.1, 0.3, 0.8])
def test_hermes_flicker_amplitude(g):
    q = Flicker(HERMES.read, HERMES.mapping).q(np.array([g * HERMES.mapping.g_max_uS]))
    assert q[0] == pytest.approx(hermes_q(g), abs=1e-12)


def test_hermes_programmed_devices_have_the_fitted_statistics():
    g = 0.5
    cfg = DeviceConfig(mapping=HERMES.mapping, programming=HERMES.programming,
                       drift=HERMES.drift)
    cb = Crossbar(cfg, np.full((200, 500), g), np.random.default_rng(0), weight_scale=1.0)
    g_plus = cb.conductances(0.0)[0]
    close_mean(g_plus, g * 20.7, hermes_sigma_prog(g))
    close_std(g_plus, hermes_sigma_prog(g))
    nu = cb.nu[0]
    # ν ~ |N(μ, σ)| with μ/σ > 5 here: the fold does not matter at this precision
    close_mean(nu, hermes_nu_mean(g), hermes_nu_std(g))
    close_std(nu, hermes_nu_std(g))


# -- reram: Wan et al. 2022 Extended Data Fig. 3, aihwkit ReRamWan2022NoiseModel (quartic, 1 s)

def wan_sigma(g_uS: float) -> float:
    g = g_uS / 40.0
    return 0.348 + 16.030 * g - 43.853 * g**2 + 45.393 * g**3 - 16.815 * g**4


@pytest.mark.parametrize(("g_uS", "sigma"), [(0.0, 0.348), (10.0, 2.258), (20.0, 2.023),
                                             (40.0, 1.103)])
def test_reram_programming_noise_peaks_mid_range(g_uS, sigma):
    """aihwkit's quartic; CrossSim's RRAM_Wan cubic fit of the same figure gives 2.41 uS at
    10 uS and 1.71 uS at 40 uS: both peak mid-range, unlike a straight line 1.05 -> 2.4 uS."""
    reram = load_device("reram")
    assert wan_sigma(g_uS) == pytest.approx(sigma, abs=1e-3)
    assert reram.programming.sigma_uS(np.array(g_uS / 40.0)) == pytest.approx(wan_sigma(g_uS))


# -- reram-cmo: aihwkit ReRamCMONoiseModel (Falcone et al. 2025), defaults of the model

CMO = load_device("reram-cmo")


def test_cmo_range_programming_and_relaxation_fit():
    assert (CMO.mapping.g_min_uS, CMO.mapping.g_max_uS) == (9.0, 88.2)
    assert CMO.mapping.scheme == "reference"
    # σ_prog = 0.00081107 + 0.00106879 G (G in µS), 0.2 % acceptance range
    for g_uS in (9.0, 40.0, 88.2):
        got = CMO.programming.sigma_uS(np.array(g_uS / 88.2))
        assert got == pytest.approx(0.00081107 + 0.00106879 * g_uS, rel=1e-5)
    # relaxation spread 0.0420 ln t + 0.4118 µS: 0.89 µS after a day
    d = CMO.drift
    spread = d.relax_std_uS + d.relax_std_slope_uS * math.log(86400.0)
    assert spread == pytest.approx(0.889, abs=1e-3)


def test_cmo_devices_after_a_day_match_the_closed_form():
    """G(t) = G_prog − 0.0890 ln t + (0.0420 ln t + 0.4118) ξ + 0.0277 log10(G) sqrt(ln(...)) ξ'
    (the model's three independent Gaussians) at t = 1 day."""
    cfg = DeviceConfig(mapping=CMO.mapping, programming=CMO.programming, read=CMO.read,
                       drift=CMO.drift)
    w = 0.4  # reference scheme: G = G_ref + w ΔG/2
    g_target = 48.6 + w * 79.2 / 2
    cb = Crossbar(cfg, np.full((200, 500), w), np.random.default_rng(1), weight_scale=1.0)
    g = cb.conductances(86400.0)[0]
    ln_t = math.log(86400.0)
    mean = g_target - 0.08900206 * ln_t
    prog = 0.00081107 + 0.00106879 * g_target
    relax = 0.04201137 * ln_t + 0.41183342
    flicker = math.sqrt(math.log((86400.0 + 1e-6) / 2e-6))
    read = 0.0277316483 * math.log10(mean) * flicker
    assert 0.0277316483 * math.log10(20.0) * flicker == pytest.approx(0.178, abs=1e-3)
    sd = math.sqrt(prog**2 + relax**2 + read**2)
    close_mean(g, mean, sd)
    close_std(g, sd)


def test_cmo_pulsed_spread_is_log_normal():
    """aihwkit ReRamArrayOMPresetDevice draws dw_min's spread log-normally: no step vanishes."""
    from neurodecorr.devices.pulsed import PulsedDevices

    dev = PulsedDevices(CMO.pulsed, (200, 500), np.random.default_rng(2))
    log_gain = np.log(dev.dw_up / CMO.pulsed.dw_min_norm)
    assert np.all(dev.dw_up > 0)
    # d2d_up_down 0.01 perturbs the log-normal gain a little; its sd adds in quadrature
    close_std(log_gain, 0.7829)


# -- pcm read noise: Rasch et al. 2023 (aihwkit StandardHWATrainingPreset, PCM_READ 0.0175)

@pytest.mark.parametrize("w", [0.05, 0.2, 1.0])
def test_pcm_read_noise_scales_with_sqrt_weight(w):
    """Output sd 0.0175 sqrt(Σ_j |w_ij| x_j²) (rpu_forward_backward_pass.cpp PCMRead)."""
    pcm = load_device("pcm")
    cfg = DeviceConfig(read=pcm.read.__class__(model="state_dependent",
                                               noise_uS=pcm.read.noise_uS))
    n = 16
    cb = Crossbar(cfg, np.full((1, n), w), np.random.default_rng(3), weight_scale=1.0)
    x = np.linspace(-1, 1, n)
    y = cb.matvec(np.tile(x, (50_000, 1)), 0.0)[:, 0]
    sd = 0.0175 * math.sqrt(np.sum(w * x**2))
    close_mean(y, w * x.sum(), sd)
    close_std(y, sd)


def test_rasch_periphery_is_the_papers():
    p = load_device("pcm+periphery-rasch2023")
    assert p.dac.noise_management == "constant" and p.dac.nm_thres_norm == 1.0
    assert (p.dac.bits, p.adc.bits, p.adc.range_norm, p.output.noise_norm) == (8, 8, 10.0, 0.04)
    assert p.ir_drop.scale == 1.0 and p.ir_drop.model == "analytic"


# -- pcm-onesided: aihwkit PCMPresetDevice (Nandakumar et al. 2020) on a one-sided unit cell

def test_pcm_onesided_first_set_step_is_aihwkits():
    """aihwkit's first SET step from w = 0 is dw_min (1 − A_up e^(γ_up z)), z = −w:
    0.01 · 28.235 = 0.282 of its range [0, 2], i.e. 0.1412 of one device's range here; the
    spread is the complex noise 0.6 (|Δw| + 0.042 + 0.108 |w|) on [0, 2], halved."""
    from dataclasses import replace

    from neurodecorr.devices.pulsed import OneSidedPair

    cfg = replace(load_device("pcm-onesided").pulsed, d2d_dw_min_rel=0.0, d2d_up_down=0.0,
                  d2d_bounds_rel=0.0)
    pair = OneSidedPair(cfg, (200, 500), np.random.default_rng(4))
    h = np.zeros((200, 500))
    step = pair.plus.pulse(h, np.ones(h.shape, bool), np.random.default_rng(5)) - h
    mean = 0.01 * (1 + 27.235) / 2
    sd = 0.6 * (0.01 * (1 + 27.235) + 0.042) / 2
    assert mean == pytest.approx(0.1412, abs=1e-4)
    # the lower bound 0 clips steps below −mean/sd = −1.1 σ: compare the median instead, which
    # clipping at 0 leaves in place, and the spread of the unclipped upper half
    assert np.median(step) == pytest.approx(mean, abs=5 * 1.2533 * sd / math.sqrt(step.size))
    upper = step[step > mean] - mean
    close_mean(upper, sd * math.sqrt(2 / math.pi), sd * math.sqrt(1 - 2 / math.pi))

