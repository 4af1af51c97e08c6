"""Fixed-point on-chip learning: Lava's LearningDense (bit-approximate) against the emulation.

The Lava runs are small (4 neurons, at most 40 samples of 16 steps); the training-run
comparison uses the emulation, which equals Lava's run bit for bit.
"""

from __future__ import annotations

import dataclasses
import multiprocessing

import numpy as np
import pytest

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed_learning as fl
from neurodecorr.lava.compat import import_lava


def _stream(plan, n, N, seed):
    X = fl.correlated_stream(n, N, 0.6, seed)
    return np.round(X * 2**plan.F).astype(np.int64)


@pytest.mark.parametrize(("log2_eta", "code_bits", "samples"), [(-6, 4, 12), (-10, 3, 40)])
def test_lava_fixed_point_learning_equals_emulation(log2_eta, code_bits, samples):
    """Lava's run equals the emulation to 0 LSB, also with the long run's plan (η = 2⁻¹⁰)."""
    from neurodecorr.lava.learning import learn_on_chip_fixed

    plan = fl.plan_for(2.0**log2_eta, T=16, b=code_bits)
    X_int = _stream(plan, 4, samples, seed=3)
    w0 = np.eye(4, dtype=np.int64) << plan.a
    res = learn_on_chip_fixed(w0, X_int, plan)
    emulated = fl.emulate(w0, X_int, plan)
    assert res.steps == samples * plan.T
    np.testing.assert_array_equal(res.weights, emulated.weights[-1])
    # learning happened, off the diagonal too, and the gain term acted
    assert np.count_nonzero(res.weights - w0) >= 12
    assert np.any(emulated.gain_code != 0)
    # the outcome depends on Lava's shared random numbers: other roundings end elsewhere
    for rounding in ("independent", "nearest"):
        assert not np.array_equal(fl.emulate(w0, X_int, plan, rounding).weights[-1], res.weights)
    assert multiprocessing.active_children() == []


def test_engine_update_equals_lavas_applier():
    """One epoch's integer update against Lava's own applier, rounding and clipping code."""
    import_lava()
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.learning.learning_rule_applier import LearningRuleApplierBitApprox
    from lava.magma.core.model.py.connection import LearningConnectionModelBitApproximate, SignMode
    from lava.utils.weightutils import clip_weights

    rng = np.random.default_rng(7)
    variants = [(-8, 6, 4, True), (-8, 7, 4, True), (-8, 8, 0, True), (-6, 6, 4, True),
                (-8, 6, 4, False), (-6, 6, 4, False)]
    plans = [dataclasses.replace(fl.plan_for(2.0**log2_eta), c=c, gain_shift=gain_shift,
                                 floor_compensation=compensate)
             for log2_eta, c, gain_shift, compensate in variants]
    # the variants write the products' scales with mantissas 1, 2 and 4
    assert {p.terms.hebb_mantissa for p in plans} >= {1, 4}
    assert {p.terms.gain_mantissa for p in plans} >= {1, 2, 4}
    for plan in plans:
        plan.check()
        rule = Loihi3FLearningRule(dw=plan.rule, t_epoch=plan.T)
        applier = LearningRuleApplierBitApprox(rule.active_product_series["dw"])
        for _ in range(20):
            n = 5
            w = rng.integers(-256, 256, (n, n))
            x1 = rng.integers(0, 128, n)
            y2 = rng.integers(0, 128, n)
            y3 = np.full(n, rng.integers(0, 128))
            random = rng.random()
            args = {"shape": (n, n), "u": 1, "weights": w, "x1_u": x1[None, :],
                    "y2_u": y2[:, None], "y3_u": y3[:, None]}
            acc = applier.apply(w.astype(np.int32) << 7, **args)
            acc = np.clip(acc, -(2**15) - 1, 2**15 - 1)
            acc = LearningConnectionModelBitApproximate._stochastic_round_synaptic_variable(
                "weights", acc, random)
            lava = clip_weights(acc >> 7, sign_mode=SignMode.MIXED, num_bits=8)
            np.testing.assert_array_equal(fl.engine_update(w, x1, y2, y3, plan, random), lava)


def test_rule_realises_eta_and_the_gain():
    """Expected per-epoch change (average over the shared random number) against float ΔA."""
    for plan in (fl.plan_for(2.0**-8), fl.plan_for(2.0**-6),
                 dataclasses.replace(fl.plan_for(2.0**-8), floor_compensation=False)):
        rng = np.random.default_rng(11)
        n = 4
        w = rng.integers(-100, 100, (n, n))
        qx = rng.integers(-40, 40, n)
        qy = rng.integers(-40, 40, n)
        q_gain = 20
        randoms = (np.arange(1024) + 0.5) / 1024  # the engine's number, uniform on [0, 1)
        mean = np.mean([fl.engine_update(w, qx + 64, qy + 64, np.full(n, q_gain + 64), plan, r)
                        for r in randoms], axis=0)
        # float: Δw = η·2^a·(A x̄)_i x̄_j − βγ·w, codes x̄ = q_x/2^b, A x̄ = q_y/2^b, γ = q/2^c
        expected = (w + plan.eta * 2**plan.a * np.outer(qy, qx) / 4**plan.b
                    - plan.beta * q_gain / 2**plan.c * w)
        # each product is floored at its granularity 2^(E+7)/m accumulator units (2^−7 LSB)
        # and the constant K added: the error lies in (K − G_h − G_g, K]; the grid of 1024
        # random numbers averages to 1/1024
        t = plan.terms
        grains = 2.0**(plan.e + 7) / t.hebb_mantissa + 2.0**(plan.e_gain + 7) / t.gain_mantissa
        error = mean - expected
        assert np.all(error <= t.constant / 2**7 + 1 / 1024)
        assert np.all(error >= (t.constant - grains) / 2**7 - 1 / 1024)


def test_residue_mean_is_the_mean_fraction_a_shift_floors_from_a_product():
    """ε_k against products of independent random integers (the closed values of small k)."""
    rng = np.random.default_rng(12)
    P = rng.integers(-4096, 4096, 200_000) * rng.integers(-64, 64, 200_000)
    for k in range(6):
        floored = np.mean(P / 2**k - np.right_shift(P, k))
        # 200 000 fractions in [0, 1): standard error below 0.3/447
        assert abs(fl.residue_mean(k) - floored) < 0.003
    assert fl.residue_mean(1) == 0.125 and fl.residue_mean(2) == 0.25


@pytest.mark.parametrize(("log2_eta", "code_bits"), [(-10, 3), (-8, 4), (-6, 4)])
def test_constant_cancels_the_engines_floors_over_a_run(log2_eta, code_bits):
    """The rule's constant K cancels the mean error of both floored products, as predicted.

    Without it (the earlier rule, which added half a unit of the gain product's floor only) the
    engine lowers every weight by 0.48 accumulator units per sample at η = 2⁻¹⁰ (0.0037 LSB);
    with it by a predicted 0.03, measured over the whole run."""
    X = fl.correlated_stream(4, 2000, 0.6, 1)
    X_int = np.round(X * 2**12).astype(np.int64)
    errors = {}
    for compensate in (True, False):
        plan = dataclasses.replace(fl.plan_for(2.0**log2_eta, b=code_bits),
                                   floor_compensation=compensate)
        run = fl.emulate(np.eye(4, dtype=np.int64) << plan.a, X_int, plan)
        err = fl.floor_errors(run, plan)
        # 2000 × 16 errors, each within one granularity (≤ 8 units) of K: the mean of the
        # run is the prediction within 0.1 unit (the codes' residues are not exactly uniform)
        assert abs(err.mean() - plan.terms.residual) < 0.1
        errors[compensate] = err.mean()
    assert abs(errors[True]) < 0.1
    assert abs(errors[True]) < 0.25 * abs(errors[False])


def test_training_run_tracks_the_float_rule():
    """η = 2⁻⁸ over 4000 samples: the integer rule decorrelates as far as the float rule."""
    plan = fl.plan_for(2.0**-8, T=16)
    X = fl.correlated_stream(4, 4000, 0.6, 1)
    X_test = fl.correlated_stream(4, 2000, 0.6, 2)
    cmp = fl.compare_training(plan, X, X_test, every=250, roundings=("lava",))
    # off-diagonal correlation 0.6 measured on 2000 samples (standard error ≈ 0.02)
    assert abs(cmp.input_rms - 0.6) < 0.05
    late = slice(len(cmp.samples) // 2, None)
    float_late = cmp.float_rule[late]
    lava_late = cmp.fixed["lava"][late]
    assert np.mean(float_late) < 0.15 * cmp.input_rms
    # the per-sample updates make each run's score fluctuate between checkpoints; the
    # integer run's late mean stays within three of the float run's own fluctuations
    assert abs(np.mean(lava_late) - np.mean(float_late)) < 3 * np.std(float_late)


def test_gain_stays_stable_past_where_the_per_sample_gain_diverged():
    """η = 2⁻¹⁰, 3-bit codes, 16000 samples: the weighted gain keeps A's scale bounded, and the
    integer rule decorrelates as far as the float rule on the weights' 9-bit grid.

    The per-sample gain (β = 1, codes clipped at |γ| < 0.25) lets A's scale random-walk until
    its largest eigenvalue passes the Euler step's limit 2/α = 4; the settling then diverges,
    every code saturates and every weight runs to 255 (sample 3204 on this stream).
    """
    X = fl.correlated_stream(4, 16000, 0.6, 1)
    X_int = np.round(X[:4000] * 2**12).astype(np.int64)
    old = fl.FixedLearningPlan(a=6, b=3, e=-7, c=8, gain_shift=0, floor_compensation=False)
    assert old.eta == 2.0**-10
    run = fl.emulate(np.eye(4, dtype=np.int64) << old.a, X_int, old)
    collapsed = np.all(run.weights == fl.W_MAX, axis=(1, 2))
    assert collapsed[-1] and np.argmax(collapsed) < 4000
    plan = fl.plan_for(2.0**-10, b=3)
    cmp = fl.compare_training(plan, X, fl.correlated_stream(4, 2000, 0.6, 2), every=1000,
                              roundings=("lava",))
    # the Euler step α = 2^−k is stable while every eigenvalue of A is below 2/α: keep a margin
    assert np.max(cmp.fixed_max_eig) < 0.75 * 2 * 2**plan.k
    assert np.max(np.abs(cmp.fixed_matrix)) < fl.W_MAX * 2.0**-plan.a
    late = slice(len(cmp.samples) // 2, None)
    lava, grid = cmp.fixed["lava"][late], cmp.float_on_grid[late]
    assert np.all(np.isfinite(lava))
    # decorrelated, late in the run as early
    assert np.mean(lava) < 0.2 * cmp.input_rms
    assert np.max(lava) < 0.4 * cmp.input_rms
    # at this η what is left is the 9-bit weights' stochastic rounding: the float rule with
    # its A rounded to the same grid ends as far, within three of its own fluctuations
    # between checkpoints; the unrounded float rule goes further
    assert abs(np.mean(lava) - np.mean(grid)) < 3 * np.std(grid)
    assert np.mean(cmp.float_rule[late]) < np.mean(grid)
    # A = D + Δ (diagonal in the neurons, Δ at a = 9): the finer grid closes most of the gap
    # to the float rule (measured late 0.033 against 0.073 and the float rule's 0.034)
    split = fl.plan_for(2.0**-10, b=3, split=True)
    assert split.eta == plan.eta and split.a == 9
    cmp_split = fl.compare_training(split, X, fl.correlated_stream(4, 2000, 0.6, 2),
                                    every=1000, roundings=("lava",))
    lava_split = cmp_split.fixed["lava"][late]
    assert np.mean(lava_split) < 0.6 * np.mean(lava)
    assert abs(np.mean(lava_split) - np.mean(cmp.float_rule[late])) < 3 * np.std(
        cmp.float_rule[late])


def test_without_stochastic_rounding_learning_freezes():
    """At η = 2⁻¹⁰ with 3-bit codes the Hebbian change per sample is ~0.01 of a weight step."""
    plan = fl.plan_for(2.0**-10, T=16, a=6, b=3, gain=False)
    X = fl.correlated_stream(4, 1000, 0.6, 1)
    X_test = fl.correlated_stream(4, 2000, 0.6, 2)
    run = fl.emulate(np.eye(4, dtype=np.int64) << plan.a,
                     np.round(X * 2**plan.F).astype(np.int64), plan, "nearest")
    q = np.abs((run.x1 - fl.OFFSET)[:, None, :] * (run.y2 - fl.OFFSET)[:, :, None])
    # rounding to nearest keeps w unless ⌊q_x q_y / 8⌋·2^e reaches half an LSB: q_x q_y ≥ 512
    grew = np.diff(run.weights, axis=0) != 0
    assert not np.any(grew & (q < 512))
    assert np.mean(q < 512) > 0.99
    cmp = fl.compare_training(plan, X, X_test, every=500)
    assert cmp.fixed["nearest"][-1] > 0.85 * cmp.input_rms  # frozen
    assert cmp.fixed["lava"][-1] < 0.5 * cmp.input_rms  # stochastic rounding learns
    assert cmp.fixed["lava"][-1] < cmp.float_rule[-1] + 0.1


def test_plan_refuses_what_the_engine_cannot_express():
    with pytest.raises(NeurodecorrError, match="power of two"):
        fl.plan_for(1e-3)
    with pytest.raises(NeurodecorrError, match="-7..8"):
        fl.plan_for(2.0**-12)
    with pytest.raises(NeurodecorrError, match="6 bits"):
        fl.plan_for(2.0**-8, T=64)
    with pytest.raises(NeurodecorrError, match="rounding"):
        fl.emulate(np.eye(2, dtype=np.int64), np.zeros((1, 2), dtype=np.int64),
                   fl.plan_for(2.0**-8), rounding="up")


def test_split_neuron_learns_its_diagonal_like_the_float_rule():
    """``D ← D + η q_y q_x 2^−2b − βγD`` in units of 2^−D, to the rounding of the gain term."""
    plan = fl.plan_for(2.0**-10, b=3, split=True)
    rng = np.random.default_rng(13)
    d = rng.integers(2**19, 2**21, 50)
    qx, qy = rng.integers(-63, 64, 50), rng.integers(-64, 64, 50)
    for q_gamma in (-40, 0, 17):
        new = fl.diagonal_update(d, qx, qy, q_gamma, plan)
        D, D_new = d * 2.0**-plan.D, new * 2.0**-plan.D
        expected = D + plan.eta * qy * qx / 4**plan.b - plan.beta * q_gamma / 2**plan.c * D
        assert np.all(np.abs(D_new - expected) <= 0.5 * 2.0**-plan.D)
    # the self term uses the top 12 bits: D_ii·v rounded toward zero
    v = rng.integers(-2**20, 2**20, 50)
    current = fl.diagonal_current(d, v, plan)
    exact = (d >> (plan.D - 11)) * v / 2**11
    assert np.all(np.abs(current - exact) < 1) and np.all(np.abs(current) <= np.abs(exact))


def test_split_plan_refuses_diagonal_synapses():
    from neurodecorr.lava.learning import learn_on_chip_fixed

    plan = fl.plan_for(2.0**-10, b=3, split=True)
    for run in (fl.emulate, learn_on_chip_fixed):
        with pytest.raises(NeurodecorrError, match="diagonal"):
            run(np.eye(2, dtype=np.int64), np.zeros((1, 2), dtype=np.int64), plan)
    with pytest.raises(NeurodecorrError, match="diagonal bits"):
        dataclasses.replace(plan, D=8).check()
    w0, X = np.zeros((2, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.int64)
    for d0 in (np.ones(3, np.int64), np.array([1.5, 1.0]), np.array([-1, 1]),
               np.array([1 << 23, 1])):
        with pytest.raises(NeurodecorrError, match="d0: .* 2 integers in"):
            learn_on_chip_fixed(w0, X, plan, d0=d0)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(("log2_eta", "code_bits"), [(-10, 3), (-8, 4), (-6, 4)])
def test_split_rule_keeps_lavas_diagonal_at_zero_and_equals_the_engine_off_it(log2_eta,
                                                                             code_bits):
    """Lava's own applier, rounding and clipping on the split rule with its tags: the diagonal
    synapses change by exactly 0 and the others as :func:`engine_update` (the unsplit
    rule's arithmetic) says, for any codes, weights and shared random number."""
    import_lava()
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.learning.learning_rule_applier import LearningRuleApplierBitApprox
    from lava.magma.core.model.py.connection import LearningConnectionModelBitApproximate, SignMode
    from lava.utils.weightutils import clip_weights

    plan = fl.plan_for(2.0**log2_eta, b=code_bits, split=True)
    assert " * t" in plan.rule and " * d" in plan.rule and plan.terms.hebb_mantissa == 1
    applier = LearningRuleApplierBitApprox(
        Loihi3FLearningRule(dw=plan.rule, t_epoch=plan.T).active_product_series["dw"])
    rng = np.random.default_rng(17)
    n = 6
    tag_1, tag_2 = fl.split_tags(n)
    changed = 0
    for _ in range(40):
        w = rng.integers(-256, 256, (n, n))
        np.fill_diagonal(w, 0)
        x1, y2 = rng.integers(0, 128, n), rng.integers(0, 128, n)
        y3 = np.full(n, rng.integers(0, 128))
        random = rng.random()
        args = {"shape": (n, n), "u": 1, "weights": w, "tag_1": tag_1, "tag_2": tag_2,
                "x1_u": x1[None, :], "y2_u": y2[:, None], "y3_u": y3[:, None]}
        acc = np.clip(applier.apply(w.astype(np.int32) << 7, **args), -(2**15) - 1, 2**15 - 1)
        acc = LearningConnectionModelBitApproximate._stochastic_round_synaptic_variable(
            "weights", acc, random)
        lava = clip_weights(acc >> 7, sign_mode=SignMode.MIXED, num_bits=8)
        assert np.all(np.diag(lava) == 0)
        expected = fl.engine_update(w, x1, y2, y3, plan, random)
        off = ~np.eye(n, dtype=bool)
        np.testing.assert_array_equal(lava[off], expected[off])
        changed += np.count_nonzero(expected[off] != w[off])
    assert changed > 100  # the rule did move the off-diagonal weights


def test_lava_split_learning_equals_emulation():
    """``A = D + Δ`` on Lava's ``LearningDense`` (tags keep its diagonal at 0) and the
    neurons' diagonal registers: weights, registers and states equal the bit-true emulation
    to 0 LSB over 40 samples of the documented split plan (η = 2⁻¹⁰, 3-bit codes, a = 9)."""
    from neurodecorr.lava.learning import learn_on_chip_fixed

    plan = fl.plan_for(2.0**-10, T=16, b=3, split=True)
    X_int = _stream(plan, 4, 40, seed=3)
    w0 = np.zeros((4, 4), dtype=np.int64)
    d0 = np.array([1, 2, 3, 5]) << (plan.D - 2)  # D = diag(0.25, 0.5, 0.75, 1.25)
    res = learn_on_chip_fixed(w0, X_int, plan, d0=d0)
    emulated = fl.emulate(w0, X_int, plan, d0=d0)
    assert res.steps == 40 * plan.T
    np.testing.assert_array_equal(res.weights, emulated.weights[-1])
    np.testing.assert_array_equal(res.d, emulated.d[-1])
    assert np.all(np.diag(res.weights) == 0)
    # both halves learned: the off-diagonal synapses and every neuron's diagonal
    assert np.count_nonzero(res.weights) >= 10 and np.all(res.d != d0)
    assert np.any(emulated.gain_code != 0)
    assert multiprocessing.active_children() == []
