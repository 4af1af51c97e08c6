"""The batched pulse-train kernel against the numpy reference it replaces.

Two crossbars built from one seed, one writing with ``engine = "numpy"`` (one
``pulse_train``/``apply_train`` per term), the other with the numba kernel, take the same
batches of rank-1 writes: the conductances, write-noise offsets, counters and the state of the
write stream must agree (the kernel draws the same numbers in the same order; what differs is
only the reference's round trip of every written device through the drift inverse).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.circuits.updates import UpdateConfig, make_array
from neurodecorr.devices import Crossbar, load_device
from neurodecorr.devices.pulse_kernels import step_factor
from neurodecorr.devices.pulsed import RESPONSES
from neurodecorr.errors import NeurodecorrError


def variant(name: str, **pulsed) -> object:
    cfg = load_device(name)
    return replace(cfg, pulsed=replace(cfg.pulsed, **pulsed)) if pulsed else cfg


def stuck(name: str) -> object:
    cfg = load_device(name)
    return replace(cfg, faults=replace(cfg.faults, stuck_g_min_frac=0.1, stuck_g_max_frac=0.05,
                                       stuck_random_frac=0.05))


CONFIGS = {
    "ideal": lambda: load_device("ideal"),
    "pcm": lambda: load_device("pcm"),
    "reram": lambda: load_device("reram"),
    "reram-cmo": lambda: load_device("reram-cmo"),  # reference column scheme, write noise
    "ecram": lambda: load_device("ecram"),
    "capacitor": lambda: load_device("capacitor"),
    "pcm-stuck": lambda: stuck("pcm"),
    "reram-cmo-stuck": lambda: stuck("reram-cmo"),
    "pow-step": lambda: variant("ecram", model="pow_step", gamma_up=1.3, gamma_down=0.7),
    "piecewise": lambda: variant("ideal", model="piecewise_step", c2c_rel=0.3,
                                 piecewise_up=(1.2, 1.0, 0.6, 0.2),
                                 piecewise_down=(0.3, 0.7, 1.0, 1.1)),
    "additive-c2c": lambda: variant("ecram", c2c_rel=0.4, c2c_additive=True),
    "exp-complex-noise": lambda: variant("reram", c2c_add_norm=0.002, c2c_slope=0.1),
}


def twins(cfg, shape=(12, 9), seed=3):
    W = np.random.default_rng(seed).uniform(-0.5, 0.5, shape)
    ref = Crossbar(cfg, W, np.random.default_rng(seed), engine="numpy")
    fast = Crossbar(cfg, W, np.random.default_rng(seed))
    return ref, fast


def assert_same_state(ref: Crossbar, fast: Crossbar, t_s: float) -> None:
    for a, b in zip(ref._arrays, fast._arrays, strict=True):
        np.testing.assert_allclose(b.drifted(t_s), a.drifted(t_s), rtol=0, atol=1e-12)
        np.testing.assert_allclose(b.q, a.q, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(fast._w_offset, ref._w_offset)
    assert fast.counters == ref.counters
    np.testing.assert_allclose(fast.effective_weights(t_s), ref.effective_weights(t_s),
                               rtol=0, atol=1e-12)
    # both consumed the write stream alike
    assert fast._rng_write.bit_generator.state == ref._rng_write.bit_generator.state


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_kernel_writes_what_the_numpy_reference_writes(name):
    ref, fast = twins(CONFIGS[name]())
    rng = np.random.default_rng(11)
    for step, (K, lr) in enumerate([(7, 0.05), (1, -0.2), (20, 0.01), (5, 2.0)]):
        xs = rng.normal(size=(K, 9)) * rng.uniform(0.1, 2, (K, 1))
        ds = rng.normal(size=(K, 12))
        xs[0, :3] = 0.0  # zero inputs fire no column
        if K > 2:
            ds[1] = 0.0  # a term that reaches no device
        t_s = 10.0 * step
        ref.write_batch(xs, ds, lr, t_s)
        fast.write_batch(xs, ds, lr, t_s)
        assert_same_state(ref, fast, t_s)
        assert ref.counters["device_pulses"] > 0


def test_drift_compensation_baseline_follows_every_term():
    cfg = load_device("pcm")
    W = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 5))
    ref = Crossbar(cfg, W, np.random.default_rng(0), drift_compensation="global", engine="numpy")
    fast = Crossbar(cfg, W, np.random.default_rng(0), drift_compensation="global")
    rng = np.random.default_rng(1)
    xs, ds = rng.normal(size=(8, 5)), rng.normal(size=(8, 6))
    ref.write_batch(xs, ds, 0.1, 1.0)
    fast.write_batch(xs, ds, 0.1, 1.0)
    np.testing.assert_allclose(fast._ref_probe_out, ref._ref_probe_out, rtol=1e-12, atol=1e-14)
    assert_same_state(ref, fast, 1.0)


def test_mixed_precision_transfer_is_the_same_through_either_engine():
    cfg = load_device("pcm")
    W = np.random.default_rng(4).uniform(-0.3, 0.3, (5, 7))
    arrays = []
    for engine in ("numpy", "numba"):
        arr = make_array(cfg, W, np.random.default_rng(4), config=UpdateConfig("mixed-precision"))
        arr.crossbar.engine = engine
        arrays.append(arr)
    rng = np.random.default_rng(5)
    for t in range(3):
        xs, ds = rng.normal(size=(4, 7)), rng.normal(size=(4, 5))
        for arr in arrays:
            arr.update(xs, ds, 0.2, float(t))
    ref, fast = (a.crossbar for a in arrays)
    assert ref.counters["device_pulses"] > 0
    assert_same_state(ref, fast, 2.0)


@pytest.mark.parametrize("model", sorted(RESPONSES))
def test_step_factor_is_the_models_formula(model):
    from neurodecorr.devices.pulse_kernels import model_params

    keys = {"linear_step": {"gamma_up": 0.8, "gamma_down": 1.7},
            "pow_step": {"gamma_up": 0.8, "gamma_down": 1.7},
            "piecewise_step": {"piecewise_up": (1.0, 0.5, 0.1),
                               "piecewise_down": (0.2, 0.9, 1.0)}}.get(model, {})
    cfg = replace(load_device("ideal").pulsed, model=model, **keys)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1.2, 1.2, 200)
    up = rng.random(200) < 0.5
    b_min, b_max = -rng.uniform(0.5, 1.5, 200), rng.uniform(0.5, 1.5, 200)
    expected = RESPONSES[model](cfg).factor(w, up, b_min, b_max)
    nodes = (np.asarray(cfg.piecewise_up), np.asarray(cfg.piecewise_down))
    from neurodecorr.devices.pulse_kernels import MODELS

    got = [step_factor(MODELS[model], w[i], up[i], b_min[i], b_max[i], model_params(cfg),
                       *nodes) for i in range(200)]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_batch_of_wrong_shape_or_engine_is_refused():
    cb = Crossbar(load_device("ideal"), np.eye(3), np.random.default_rng(0))
    with pytest.raises(NeurodecorrError, match="do not fit"):
        cb.write_batch(np.ones((2, 3)), np.ones((3, 3)), 0.1, 0.0)
    with pytest.raises(NeurodecorrError, match="finite"):
        cb.write_batch(np.full((1, 3), np.nan), np.ones((1, 3)), 0.1, 0.0)
    with pytest.raises(NeurodecorrError, match="engine"):
        Crossbar(load_device("ideal"), np.eye(3), np.random.default_rng(0), engine="fortran")


@pytest.mark.parametrize("forward", [True, False])
def test_flicker_step_is_the_numpy_update_with_numpys_draws(forward):
    from neurodecorr.devices.kernels import flicker_step

    rng = np.random.default_rng(0)
    eps, v_eps, v = rng.normal(size=(5, 7)), rng.uniform(0, 2, (5, 7)), rng.uniform(0, 2, (5, 7))
    gen, twin = np.random.default_rng(1), np.random.default_rng(1)
    if forward:
        want_eps = eps + np.sqrt(np.maximum(v - v_eps, 0.0)) * twin.standard_normal(v.shape)
        want_v = np.maximum(v, v_eps)
    else:
        want_eps, want_v = np.sqrt(v) * twin.standard_normal(v.shape), v
    flicker_step(eps, v_eps, v, gen, forward)
    np.testing.assert_array_equal(eps, want_eps)
    np.testing.assert_array_equal(v_eps, want_v)
    assert gen.random() == twin.random()
