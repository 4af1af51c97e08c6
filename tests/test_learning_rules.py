"""Learning rules against independent truths: finite differences, exact identities, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core.forward import NumpyBackend
from neurodecorr.core.network import Network
from neurodecorr.learning.adam import Adam
from neurodecorr.learning.loss import cross_entropy
from neurodecorr.learning.rules import (
    ActivityNodePerturbation,
    Backprop,
    DirectFeedbackAlignment,
    FeedbackAlignment,
    NodePerturbation,
    SignFeedbackAlignment,
)

EXACT = NumpyBackend()


def _model(sizes, slope=0.1, decorrelate=True, seed=0):
    rng = np.random.default_rng(seed)
    model = Network.dense(sizes, rng, decorrelated=decorrelate, negative_slope=slope)
    if decorrelate:
        for layer, n in zip(model.layers, sizes[:-1], strict=True):
            layer.decorrelation = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return model, rng


def _weights(model):
    return [layer.weight for layer in model.layers]


def _mean_loss(model, X, y):
    return float(np.mean(cross_entropy(EXACT.forward(model, X).logits, y)))


def _flat(grads):
    return np.concatenate([g.ravel() for g in grads])


def test_backprop_matches_central_differences_through_decorrelation():
    model, rng = _model([5, 6, 4, 3])
    X = rng.standard_normal((7, 5))
    y = rng.integers(0, 3, 7)
    grads, _ = Backprop().gradients(model, EXACT, X, y, rng)
    params = [p for layer in model.layers for p in (layer.weight, layer.bias)]
    h = 1e-6
    for p, g in zip(params, grads, strict=True):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = _mean_loss(model, X, y)
            p[idx] = old - h
            down = _mean_loss(model, X, y)
            p[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_fa_with_forward_weights_as_feedback_is_backprop_exactly():
    model, rng = _model([5, 6, 4, 3])
    X = rng.standard_normal((9, 5))
    y = rng.integers(0, 3, 9)
    fa = FeedbackAlignment(model, rng)
    fa.feedback = [W.copy() for W in _weights(model)]
    g_fa, _ = fa.gradients(model, EXACT, X, y, rng)
    g_bp, _ = Backprop().gradients(model, EXACT, X, y, rng)
    for a, b in zip(g_fa, g_bp, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fa_skipping_decorrelation_differs_only_below_the_top_layer():
    model, rng = _model([5, 6, 4, 3])
    X = rng.standard_normal((9, 5))
    y = rng.integers(0, 3, 9)
    fa = FeedbackAlignment(model, rng, through_decorrelation=False)
    fa.feedback = [W.copy() for W in _weights(model)]
    g_skip, _ = fa.gradients(model, EXACT, X, y, rng)
    g_bp, _ = Backprop().gradients(model, EXACT, X, y, rng)
    np.testing.assert_array_equal(g_skip[-2], g_bp[-2])  # output layer: no error sent back yet
    assert not np.allclose(g_skip[0], g_bp[0])


def test_fa_feedback_scale_is_kaiming_uniform():
    model, rng = _model([50, 400, 10], decorrelate=False)
    fa = FeedbackAlignment(model, rng, scale=1.0)
    B = fa.feedback[1]
    bound = np.sqrt(6.0 / 400)
    assert B.shape == model.layers[1].weight.shape
    assert np.abs(B).max() <= bound
    # variance of U(-a, a) is a²/3; the sample variance of 4000 entries is within 5 % (≈7 SE)
    assert abs(B.var() / (bound ** 2 / 3) - 1) < 0.05


def test_sign_fa_equals_backprop_when_weights_have_one_magnitude():
    model, rng = _model([5, 6, 4, 3])
    c = 0.4
    for W in _weights(model):
        W[...] = c * np.sign(rng.standard_normal(W.shape))
    rule = SignFeedbackAlignment(model)
    assert rule.scales == pytest.approx([c] * 3)
    X = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, 8)
    g_s, _ = rule.gradients(model, EXACT, X, y, rng)
    g_bp, _ = Backprop().gradients(model, EXACT, X, y, rng)
    for a, b in zip(g_s, g_bp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_dfa_on_a_linear_network_with_chained_feedback_is_backprop():
    # linear: slope 1; the error reaching layer l through BP is e W_L ··· W_{l+1}
    model, rng = _model([5, 6, 4, 3], slope=1.0, decorrelate=False)
    X = rng.standard_normal((10, 5))
    y = rng.integers(0, 3, 10)
    dfa = DirectFeedbackAlignment(model, rng)
    assert [B.shape for B in dfa.feedback] == [(3, 6), (3, 4), (3, 3)]
    W = _weights(model)
    dfa.feedback = [W[2] @ W[1], W[2].copy(), np.eye(3)]
    g_dfa, _ = dfa.gradients(model, EXACT, X, y, rng)
    g_bp, _ = Backprop().gradients(model, EXACT, X, y, rng)
    assert [g.shape for g in g_dfa] == [g.shape for g in g_bp]
    for a, b in zip(g_dfa, g_bp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_dfa_random_feedback_hidden_update_has_the_sign_of_its_projected_error():
    # with B_l fixed, a hidden unit whose broadcast error is positive for every sample with
    # positive inputs gets a positive weight update: ∂W = (eB ⊙ f')ᵀ x̄, f' > 0
    model, rng = _model([3, 4, 2], slope=1.0, decorrelate=False)
    X = np.abs(rng.standard_normal((6, 3)))
    y = np.zeros(6, dtype=int)
    dfa = DirectFeedbackAlignment(model, rng)
    dfa.feedback[0] = np.array([[-1.0, 1.0, -1.0, 1.0], [1.0, -1.0, 1.0, -1.0]])
    g, _ = dfa.gradients(model, EXACT, X, y, rng)
    # class-0 error e_0 = p_0 − 1 < 0 and e_1 = p_1 > 0: units 0, 2 receive −e_0 + e_1 > 0
    assert np.all(g[0][[0, 2]] > 0) and np.all(g[0][[1, 3]] < 0)
    np.testing.assert_array_equal(g[2], Backprop().gradients(model, EXACT, X, y, rng)[0][2])


@pytest.mark.parametrize("rule_cls", [NodePerturbation, ActivityNodePerturbation])
def test_perturbation_estimators_point_along_the_gradient(rule_cls):
    # the estimators are averaged over K noise draws (the batch holds K copies of 4 inputs);
    # their mean is ∇L (NP) or a positive-definite transform of it (ANP), so the cosine
    # approaches 1 as K grows: the noise part shrinks like 1/√K
    model, rng = _model([4, 5, 3], slope=0.5, decorrelate=True)
    X0 = rng.standard_normal((4, 4))
    y0 = rng.integers(0, 3, 4)
    K = 5000
    X, y = np.tile(X0, (K, 1)), np.tile(y0, K)
    true = _flat(Backprop().gradients(model, EXACT, X0, y0, rng)[0])
    rule = rule_cls(sigma=1e-4)
    cosines = []
    for _ in range(5):
        est = _flat(rule.gradients(model, EXACT, X, y, rng)[0])
        cosines.append(est @ true / np.linalg.norm(est) / np.linalg.norm(true))
    assert np.mean(cosines) > 0.9


def test_np_single_draw_is_unbiased_in_the_linear_regime():
    # (L̃ − L)ξ/σ² with L̃ − L = ∇L·ξ exactly has mean ∇L: test the mean of many draws
    # against the true gradient with a tolerance of 5 standard errors per component
    model, rng = _model([3, 2], slope=1.0, decorrelate=False)
    X0 = rng.standard_normal((1, 3))
    y0 = np.array([1])
    K = 40000
    rule = NodePerturbation(sigma=1e-5)
    X, y = np.tile(X0, (K, 1)), np.tile(y0, K)
    clean, _, noise, dloss = rule._passes(model, EXACT, X, y, rng)
    per_draw = dloss[:, None] * noise[0] / rule.sigma ** 2          # ∂L/∂z estimates, (K, 2)
    true = Backprop().gradients(model, EXACT, X0, y0, rng)[0][1]          # ∂L/∂b = ∂L/∂z
    se = per_draw.std(axis=0) / np.sqrt(K)
    assert np.all(np.abs(per_draw.mean(axis=0) - true) < 5 * se)


def test_decorrelation_switched_on_leaves_the_function_unchanged():
    rng = np.random.default_rng(3)
    model = Network.dense([6, 8, 5, 3], rng)
    X = rng.standard_normal((20, 6))
    before = EXACT.forward(model, X).logits
    for layer in model.layers:
        layer.decorrelation = np.eye(layer.n_in)
    np.testing.assert_array_equal(EXACT.forward(model, X).logits, before)
    np.testing.assert_allclose(model.forward(X), before, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("rows", [4, 7, 30])
def test_folding_w_m_for_evaluation_keeps_the_function_and_folds_only_narrow_layers(rows):
    from neurodecorr.learning.trainer import folded_for_rows

    model, rng = _model([5, 6, 4, 3])  # random non-symmetric M in every layer
    X = rng.standard_normal((rows, 5))
    folded = folded_for_rows(model, rows)
    want = [layer.n_out < rows for layer in model.layers]  # 6, 4, 3 outputs
    assert [layer.decorrelation is None for layer in folded.layers] == want
    # the layer equations written out, unfolded, are the truth
    h = X
    for layer in model.layers:
        h = layer.activate((h @ layer.decorrelation.T) @ layer.weight.T + layer.bias)
    np.testing.assert_allclose(EXACT.forward(folded, X).logits, h, rtol=1e-12, atol=1e-13)
    assert model.layers[0].decorrelation is not None  # the trained network is untouched


def test_the_numpy_trace_is_the_layer_equations_written_out():
    """x̄ = M x, z = W x̄ + b, next x = leaky_relu(z): each recorded, logits = last z."""
    model, rng = _model([5, 6, 4, 3], slope=0.05)
    X = rng.standard_normal((11, 5))
    trace = EXACT.forward(model, X)
    assert model.sizes == [5, 6, 4, 3]
    assert [layer.activation for layer in model.layers] == ["leaky_relu", "leaky_relu",
                                                            "identity"]
    h = X
    for layer, x, xbar, z in zip(model.layers, trace.x, trace.xbar, trace.z, strict=True):
        np.testing.assert_array_equal(x, h)
        np.testing.assert_allclose(xbar, h @ layer.decorrelation.T, rtol=1e-14)
        np.testing.assert_allclose(z, xbar @ layer.weight.T + layer.bias, rtol=1e-14)
        h = np.where(z > 0, z, 0.05 * z)
    np.testing.assert_array_equal(trace.logits, trace.z[-1])
    np.testing.assert_allclose(model.forward(X), trace.logits, rtol=1e-12, atol=1e-14)


def test_dense_initialisation_is_pytorch_linear():
    """W, b ~ U(−1/√n_in, 1/√n_in): bounds hold and the variance is 1/(3 n_in) within 5 %."""
    net = Network.dense([400, 300, 10], np.random.default_rng(0), decorrelated=True)
    W = net.layers[0].weight
    assert np.abs(W).max() <= 1 / np.sqrt(400) and np.abs(net.layers[0].bias).max() <= 0.05
    # 120 000 entries: the sample variance of U(−a, a) has a relative s.e. of about 0.3 %
    assert abs(W.var() * 3 * 400 - 1) < 0.05
    np.testing.assert_array_equal(net.layers[1].decorrelation, np.eye(300))


def test_adam_first_steps_match_the_closed_form():
    p = np.array([1.0, -2.0])
    adam = Adam([p], lr=0.1)
    g1, g2 = np.array([0.5, -3.0]), np.array([1.0, 1.0])
    adam.step([g1])
    # t = 1: m̂ = g, v̂ = g², step lr·g/(|g| + ε)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 3 / (3 + 1e-8)])
    before = p.copy()
    adam.step([g2])
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2
    expected = before - 0.1 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(p, expected, rtol=1e-14)
