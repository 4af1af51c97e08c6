"""The fused read kernels against the numpy formulas of the read path they replace."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.devices import Crossbar, load_device
from neurodecorr.devices import kernels as K
from neurodecorr.devices.periphery import lsb, quantise
from neurodecorr.errors import NeurodecorrError


def clone(rng: np.random.Generator) -> np.random.Generator:
    twin = np.random.Generator(type(rng.bit_generator)())
    twin.bit_generator.state = rng.bit_generator.state
    return twin


def noise_management(X: np.ndarray, mode: int, thres: float) -> np.ndarray:
    """α per sample as aihwkit defines it (computeNoiseManagement in
    rpu_forward_backward_pass.cpp)."""
    if mode == 0:
        alpha = np.ones(X.shape[0])
    elif mode == 3:
        alpha = np.full(X.shape[0], thres)
    else:
        alpha = np.max(np.abs(X), axis=1) if mode == 1 else np.max(X, axis=1)
        if thres > 0:
            alpha = np.minimum(alpha, thres)
    return np.where(alpha > 0, alpha, 1.0)[:, None]


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize(("mode", "thres"), [(1, 0.0), (1, 2.0), (2, 0.0), (3, 1.5), (0, 0.0)])
def test_dac_pass_is_noise_managed_quantiser_and_noise_level(reference, mode, thres):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 33)) * rng.uniform(0.1, 10, (50, 1))
    X[3] = 0.0
    X[4] = -np.abs(X[4])  # max(x) < 0: α falls back to 1
    XN, gain, sd = np.empty_like(X), np.full(50, 2.0), np.empty(50)
    bm = rng.choice([1.0, 1.7, 3.3], 50)  # keeps x = ±α off the half-LSB boundaries
    K.dac_pass(X, XN, True, mode, thres, bm, lsb(6, 1.0), 1.0, 0.01, 0.04, reference, gain, sd)
    alpha = noise_management(X, mode, thres) * bm[:, None]
    expected = quantise(X / alpha, 6, 1.0)
    # the kernel multiplies by 1/(α δ) instead of dividing twice: a level may differ only
    # within rounding of a half-LSB boundary, which random inputs do not hit
    np.testing.assert_array_equal(XN, expected)
    np.testing.assert_allclose(gain, 2.0 * alpha[:, 0], rtol=1e-15)
    sq = np.sum(expected**2, axis=1) + (np.sum(expected, axis=1) ** 2 if reference else 0)
    np.testing.assert_allclose(sd, np.sqrt(0.04 + 0.01 * sq), rtol=1e-12)


def test_adc_pass_draws_numpys_gaussians_then_quantises():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(40, 25)) * rng.uniform(0.3, 3, (40, 1))
    sd, gain, col = rng.uniform(0.1, 1, 40), rng.uniform(1, 2, 40), rng.uniform(0.5, 2, 25)
    gen = np.random.default_rng(2)
    twin = clone(gen)
    out = Y.copy()
    clipped = np.zeros(40, dtype=bool)
    K.adc_pass(out, gen, True, sd, True, lsb(8, 4.0), 4.0, gain, col, np.empty(25), clipped,
               False, np.zeros((1, 1)))
    noisy = Y + sd[:, None] * twin.standard_normal(Y.shape)
    np.testing.assert_allclose(out, quantise(noisy, 8, 4.0) * gain[:, None] * col, rtol=1e-14)
    hit = np.any(np.abs(quantise(noisy, 8, 4.0)) >= 4.0, axis=1)
    np.testing.assert_array_equal(clipped, hit)
    assert clipped.any() and not clipped.all()
    # both generators advanced alike: same seed, same stream afterwards
    assert gen.standard_normal() == twin.standard_normal()


def test_float32_read_preserves_dtype_and_matches_float64():
    A = np.eye(16) + 0.2 * np.random.default_rng(3).normal(size=(16, 16))
    X = np.random.default_rng(4).normal(size=(30, 16))
    cfg = load_device("pcm")
    y64 = Crossbar(cfg, A, np.random.default_rng(5)).matvec(X, 10.0)
    y32 = Crossbar(cfg, A, np.random.default_rng(5)).matvec(X.astype(np.float32), 10.0)
    assert y32.dtype == np.float32
    # same draws; float32 rounding may move a DAC/ADC level by one LSB at most
    step = lsb(8, 10.0) * Crossbar(cfg, A, np.random.default_rng(5)).scale
    alpha = np.max(np.abs(X), axis=1, keepdims=True)
    assert np.max(np.abs(y32 - y64) / alpha) <= 2 * step


def test_out_buffer_equals_fresh_result_and_is_checked():
    A = np.eye(8) + 0.1 * np.random.default_rng(6).normal(size=(8, 8))
    X = np.random.default_rng(7).normal(size=(5, 8))
    fresh = Crossbar(load_device("reram"), A, np.random.default_rng(8),
                     drift_compensation="column").matvec(X, 5.0)
    cb = Crossbar(load_device("reram"), A, np.random.default_rng(8), drift_compensation="column")
    out = np.empty((5, 8))
    assert cb.matvec(X, 5.0, out=out) is out
    np.testing.assert_array_equal(out, fresh)
    with pytest.raises(NeurodecorrError, match="out must be"):
        cb.matvec(X, 5.0, out=np.empty((5, 8), dtype=np.float32))


def test_adc_pass_per_output_variance_adds_to_the_sample_noise():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(30, 12))
    sd, var = rng.uniform(0.1, 1, 30), rng.uniform(0, 2, (30, 12))
    gain, col = np.ones(30), np.ones(12)
    gen = np.random.default_rng(4)
    twin = clone(gen)
    out = Y.copy()
    K.adc_pass(out, gen, True, sd, False, 1.0, 1.0, gain, col, np.empty(12),
               np.zeros(30, dtype=bool), True, var)
    expected = Y + np.sqrt(sd[:, None] ** 2 + var) * twin.standard_normal(Y.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
