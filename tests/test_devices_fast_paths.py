"""The device state's fast paths against the whole-array formulas they stand for: the same
numbers, bit for bit, or the closed form to round-off."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.devices import drift, kernels, load_device
from neurodecorr.devices.drift import DeviceArray
from neurodecorr.devices.read_noise import Flicker, PerReadNoise


def _array(name: str, stuck_frac: float = 0.0, seed: int = 0) -> DeviceArray:
    cfg = load_device(name)
    m = cfg.mapping
    rng = np.random.default_rng(seed)
    g = rng.uniform(m.g_min_uS, m.g_max_uS, (12, 17))
    stuck = rng.random(g.shape) < stuck_frac
    return DeviceArray(g, 0.0, stuck, np.full(g.shape, m.g_min_uS), m, cfg.drift, cfg.read,
                       rng)


@pytest.mark.parametrize("name", ["pcm", "reram-cmo", "capacitor", "ideal"])
@pytest.mark.parametrize("fraction", [0.05, 0.6])
def test_rewritten_devices_read_the_new_value_and_the_rest_are_untouched(name, fraction):
    arr = _array(name, stuck_frac=0.1)
    t = 50.0
    rng = np.random.default_rng(1)
    before_g, before_q = arr.drifted(t).copy(), arr.q.copy()
    mask = rng.random(before_g.shape) < fraction
    g_new = before_g + rng.uniform(-1, 1, before_g.shape)
    arr.rewrite(mask, g_new, t)
    moved = mask & ~arr.stuck
    after = arr.drifted(t)
    np.testing.assert_allclose(after[moved], g_new[moved], rtol=1e-13)
    np.testing.assert_array_equal(after[~moved], before_g[~moved])
    np.testing.assert_array_equal(arr.q[moved], arr.flicker.q(g_new[moved]))
    np.testing.assert_array_equal(arr.q[~moved], before_q[~moved])


@pytest.mark.parametrize("name", ["pcm", "reram-cmo", "capacitor"])
def test_index_and_mask_rewrites_leave_the_same_state(name, monkeypatch):
    rng = np.random.default_rng(2)
    base = _array(name, stuck_frac=0.1)
    base.drifted(30.0)
    mask = rng.random(base.g_prog.shape) < 0.1
    g_new = base.drifted(30.0) * rng.uniform(0.8, 1.2, mask.shape)
    states = []
    for fraction in (1.0, 0.0):  # every rewrite on indices, then every one on the mask
        monkeypatch.setattr(drift, "SPARSE_FRACTION", fraction)
        arr = copy.deepcopy(base)
        arr.rewrite(mask, g_new, 30.0)
        states.append((arr.g_prog, arr.q, arr.t_write, arr.drifted(40.0)))
    for a, b in zip(*states, strict=True):
        np.testing.assert_array_equal(a, b)


def test_devices_of_different_ages_drift_each_by_its_own_age():
    arr = _array("pcm")
    g0 = arr.g_prog.copy()
    mask = np.zeros(g0.shape, bool)
    mask[3:7, 2:9] = True
    g_new = np.full(g0.shape, 10.0)
    arr.reprogram(mask, g_new, g_new, 100.0, np.random.default_rng(3))
    t0 = arr.drift.t0_s
    age = np.where(mask, 900.0, 1000.0)
    expected = np.where(mask, 10.0, g0) * ((age + t0) / t0) ** -arr.params
    np.testing.assert_allclose(arr.drifted(1000.0), expected, rtol=1e-13)
    # a flicker read after the refresh still works on per-device variances
    assert np.all(np.isfinite(arr.read_slow(1000.0, np.random.default_rng(4))))


def test_flicker_step_with_one_variance_is_the_step_with_that_variance_everywhere():
    rng = np.random.default_rng(5)
    eps, v_eps = rng.normal(size=(6, 9)), rng.uniform(0, 1, (6, 9))
    one, full = (eps.copy(), v_eps.copy()), (eps.copy(), v_eps.copy())
    kernels.flicker_step(*one, np.array([0.7]), np.random.default_rng(6), True)
    kernels.flicker_step(*full, np.full((6, 9), 0.7), np.random.default_rng(6), True)
    for a, b in zip(one, full, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("forward", [True, False])
def test_fused_flicker_read_is_the_step_then_numpys_expression(forward):
    rng = np.random.default_rng(7)
    g, q = rng.uniform(-5, 25, (8, 11)), rng.uniform(0, 0.2, (8, 11))
    eps, v_eps, v = rng.normal(size=(8, 11)), rng.uniform(0, 1, (8, 11)), np.array([0.8])
    fused, stepped = (eps.copy(), v_eps.copy()), (eps.copy(), v_eps.copy())
    out = np.empty_like(g)
    kernels.flicker_read(*fused, v, np.random.default_rng(8), forward, g, q, out)
    kernels.flicker_step(*stepped, v, np.random.default_rng(8), forward)
    for a, b in zip(fused, stepped, strict=True):
        np.testing.assert_array_equal(a, b)
    cfg = load_device("pcm")
    amplitude = Flicker(cfg.read, cfg.mapping).amplitude(g, q)
    np.testing.assert_array_equal(out, g + amplitude * stepped[0])


@pytest.mark.parametrize("name", ["pcm", "reram-cmo"])
def test_transposed_variance_matrix_is_the_variance_matrix_transposed(name):
    cfg = load_device(name)
    read = replace(cfg.read, model="state_dependent", noise_uS=0.4)
    noise = PerReadNoise(read, cfg.mapping)
    rng = np.random.default_rng(8)
    a = rng.uniform(0, 25, (7, 13))
    b = rng.uniform(0, 25, (7, 1) if cfg.mapping.scheme == "reference" else (7, 13))
    v, v_ref = noise.variance_matrix(a, b)
    v_t, v_ref_t = noise.variance_matrix_t(a, b)
    assert v_t.flags.c_contiguous
    np.testing.assert_array_equal(v_t, v.T)
    if v_ref is None:
        assert v_ref_t is None
    else:
        np.testing.assert_array_equal(v_ref_t, v_ref)
