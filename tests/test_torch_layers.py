"""neurodecorr.torch against the numpy core and rules (float64) and against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurodecorr.core.linear import LinearDecorrelator, linear_update  # noqa: E402
from neurodecorr.core.rules import DecorrelationConfig  # noqa: E402
from neurodecorr.learning import TrainConfig, Trainer  # noqa: E402
from neurodecorr.torch import (  # noqa: E402
    DecorConv2d,
    DecorLinear,
    decorrelation_step,
    perturbation_gradients,
)
from neurodecorr.torch.adapter import dense_net_from_numpy  # noqa: E402
from tests.conftest import correlated_data  # noqa: E402

F64 = torch.float64


def _t(a):
    return torch.as_tensor(np.array(a), dtype=F64)


@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
@pytest.mark.parametrize("fraction", [0.25, 1.0])
@pytest.mark.parametrize("centre", [False, True])
@pytest.mark.parametrize("in_place", [False, True])
def test_decorrelation_step_matches_the_numpy_core(rng, rule, fraction, centre, in_place):
    d = 30
    X = correlated_data(rng, 40, d) + 0.5
    M = np.eye(d) + 0.2 * rng.standard_normal((d, d)) / np.sqrt(d)
    mean = X.mean(0) * 0.7 if centre else None
    cfg = DecorrelationConfig(rule=rule, eta=3e-3, kappa=0.3, batch_fraction=fraction,
                              centre=centre)
    want, want_gain = linear_update(M, X, cfg, mean=mean)
    M_t = _t(M)
    got, gain = decorrelation_step(M_t, _t(X), _t(X @ M.T), cfg,
                                   None if mean is None else _t(mean), in_place=in_place)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-13)
    # in place where the product allows it: the factored ahmad step (k = 10 < d/2)
    factored = rule == "ahmad" and fraction < 1
    assert (got.data_ptr() == M_t.data_ptr()) == (in_place and factored)
    assert float(gain) == pytest.approx(want_gain, rel=1e-13)


def test_factored_and_formed_products_agree(rng):
    d = 30  # k = 4 rows of 40 < d/2: the factored path; fraction 1: the formed one
    X = correlated_data(rng, 40, d)
    M = np.eye(d)
    cfg = DecorrelationConfig(eta=1e-3, batch_fraction=0.1)
    want, _ = linear_update(M, X, cfg, factored=False)
    got, _ = decorrelation_step(_t(M), _t(X), _t(X), cfg)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_out", [3, 40])  # fused W M (3 < 32 rows) and formed X̄
def test_decor_linear_updates_in_forward_like_the_numpy_decorrelator(rng, n_out):
    cfg = DecorrelationConfig(eta=2e-3, centre=True, batch_fraction=0.5)
    X = correlated_data(rng, 32, 8) + 1.0
    layer = DecorLinear(8, n_out, decorrelation=cfg, dtype=F64)
    assert layer.fused(32) == (n_out < 32)
    ref = LinearDecorrelator(8, cfg)
    for _ in range(3):
        W, b, M = layer.weight.detach().numpy(), layer.bias.detach().numpy(), ref.M
        z = layer(_t(X))
        np.testing.assert_allclose(z.detach().numpy(), X @ M.T @ W.T + b, atol=1e-13)
        ref.update(X)
        np.testing.assert_allclose(layer.M.numpy(), ref.M, atol=1e-13)
    layer.eval()
    before = layer.M.clone()
    layer(_t(X))
    assert torch.equal(layer.M, before)


def test_forward_demeaning_uses_the_batch_mean_then_the_running_mean(rng):
    X = rng.standard_normal((16, 5)) + 3.0
    layer = DecorLinear(5, 2, decorrelation=DecorrelationConfig(momentum=0.1),
                        forward_demean=True, dtype=F64)
    W, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    z = layer(_t(X)).detach().numpy()
    np.testing.assert_allclose(z, (X - X.mean(0)) @ W.T + b, atol=1e-13)  # M was I
    np.testing.assert_allclose(layer.forward_mean.numpy(), 0.1 * X.mean(0), atol=1e-15)
    layer.eval()
    M = layer.M.numpy()
    z = layer(_t(X)).detach().numpy()
    np.testing.assert_allclose(z, (X - 0.1 * X.mean(0)) @ M.T @ W.T + b, atol=1e-13)


@pytest.mark.parametrize("demean", [False, True])
def test_decor_linear_takes_leading_dimensions_as_nn_linear_does(rng, demean):
    # (N, T, d) input: the output is nn.Linear's shape, and everything (z, M, the running mean)
    # is what the 2-D layer gives on the (N·T, d) rows
    cfg = DecorrelationConfig(eta=2e-3, batch_fraction=0.5, momentum=0.1)
    X = correlated_data(rng, 24, 6).reshape(4, 6, 6) + 1.0
    a = DecorLinear(6, 3, decorrelation=cfg, forward_demean=demean, dtype=F64)
    b = DecorLinear(6, 3, decorrelation=cfg, forward_demean=demean, dtype=F64)
    b.load_state_dict(a.state_dict())
    linear = torch.nn.Linear(6, 3, dtype=F64)
    linear.load_state_dict({"weight": a.weight.detach(), "bias": a.bias.detach()})
    for _ in range(2):
        z3 = a(_t(X))
        z2 = b(_t(X.reshape(-1, 6)))
        assert z3.shape == linear(_t(X)).shape == (4, 6, 3)
        np.testing.assert_allclose(z3.detach().numpy().reshape(-1, 3), z2.detach().numpy(),
                                   rtol=0, atol=1e-13)
        np.testing.assert_allclose(a.M.numpy(), b.M.numpy(), rtol=0, atol=1e-13)
        assert not torch.equal(a.M, torch.eye(6, dtype=F64))
        if demean:
            np.testing.assert_allclose(a.forward_mean.numpy(), b.forward_mean.numpy(), atol=1e-15)
    z3.sum().backward()
    z2.sum().backward()
    np.testing.assert_allclose(a.weight.grad.numpy(), b.weight.grad.numpy(), atol=1e-12)
    a.eval()
    xbar = a.decorrelate(_t(X))
    assert xbar.shape == (4, 6, 6)
    np.testing.assert_allclose(xbar.numpy().reshape(-1, 6),
                               a.decorrelate(_t(X.reshape(-1, 6))).numpy(), atol=1e-14)


@pytest.mark.parametrize("layer", ["linear", "conv"])
def test_sign_fa_scale_is_saved_and_restored_by_the_state_dict(layer):
    def make(scale, seed):
        g = torch.Generator().manual_seed(seed)
        if layer == "linear":
            return DecorLinear(5, 3, feedback="signfa", feedback_scale=scale, generator=g)
        return DecorConv2d(2, 3, 3, feedback="signfa", feedback_scale=scale, generator=g)
    a, b = make(2.0, 0), make(0.5, 1)
    assert "sign_scale" in a.state_dict()
    assert not torch.equal(a.feedback_matrix(), b.feedback_matrix())
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.feedback_matrix(), b.feedback_matrix())
    rms = torch.sqrt(torch.mean(a.weight.detach() ** 2))
    assert float(b.sign_scale) == pytest.approx(2.0 * float(rms), rel=1e-6)


def test_an_unstable_eta_is_shrunk_for_that_step_and_counted(rng):
    X = correlated_data(rng, 64, 10, scale=3.0)
    power = float(np.mean(np.sum(X ** 2, 1)))
    layer = DecorLinear(10, 2, decorrelation=DecorrelationConfig(eta=2.0 / power), dtype=F64)
    layer(_t(X))
    ref, _ = linear_update(np.eye(10), X, DecorrelationConfig(eta=0.5 / power))
    np.testing.assert_allclose(layer.M.numpy(), ref, atol=1e-13)
    assert int(layer.eta_shrunk) == 1


def _numpy_trainer(algorithm, decorrelate=True, seed=3):
    from neurodecorr.data.base import Dataset

    rng = np.random.default_rng(seed)
    X = correlated_data(rng, 48, 7)
    y = rng.integers(0, 4, 48)
    data = Dataset("toy", X, y, X[:8], y[:8], 4)
    cfg = TrainConfig(algorithm=algorithm, decorrelation="ahmad" if decorrelate else "none",
                      hidden=(9, 6), batch_size=16, sigma=1e-2)
    trainer = Trainer(cfg, data)
    if decorrelate:
        for layer in trainer.network.layers:
            n = layer.n_in
            layer.decorrelation = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return trainer, X[:16], y[:16]


@pytest.mark.parametrize("algorithm", ["bp", "fa", "signfa", "dfa"])
def test_autograd_rules_give_the_numpy_rules_gradients(algorithm):
    trainer, X, y = _numpy_trainer(algorithm)
    want, _ = trainer.rule.gradients(trainer.network, trainer.backend, X, y,
                                    trainer.rng)
    net = dense_net_from_numpy(trainer, torch.device("cpu"), F64)
    logits = net(_t(X))
    torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)).backward()
    got = [p.grad.numpy() for layer in net.layers for p in (layer.weight, layer.bias)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("algorithm", ["np", "anp"])
def test_perturbation_rules_give_the_numpy_rules_gradients_with_the_same_noise(algorithm):
    trainer, X, y = _numpy_trainer(algorithm)
    state = trainer.rng.bit_generator.state
    want, _ = trainer.rule.gradients(trainer.network, trainer.backend, X, y,
                                    trainer.rng)
    trainer.rng.bit_generator.state = state
    net = dense_net_from_numpy(trainer, torch.device("cpu"), F64)
    xt, yt = _t(X), torch.as_tensor(y)
    perturbation_gradients(
        list(net.layers), lambda: net(xt),
        lambda logits: torch.nn.functional.cross_entropy(logits, yt, reduction="none"),
        trainer.config.sigma, algorithm, noise=lambda shape: _t(trainer.rng.standard_normal(shape)))
    got = [p.grad.numpy() for layer in net.layers for p in (layer.weight, layer.bias)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_np_estimate_is_unbiased_for_the_exact_gradient():
    # one linear layer, quadratic loss: NP's mean over many noise draws is the gradient
    gen = torch.Generator().manual_seed(0)
    layer = DecorLinear(4, 3, generator=gen, dtype=F64)
    X = torch.randn(6, 4, generator=gen, dtype=F64)
    T = torch.randn(6, 3, generator=gen, dtype=F64)

    def losses(z):
        return 0.5 * torch.sum((z - T) ** 2, 1)

    torch.mean(losses(layer(X))).backward()
    exact = layer.weight.grad.clone()
    estimates = []
    for _ in range(4000):
        perturbation_gradients([layer], lambda: layer(X), losses, 1e-3, "np", generator=gen)
        estimates.append(layer.weight.grad.clone())
    est = torch.stack(estimates)
    # each estimate is exact + (noise projection); its mean's s.e. is std/sqrt(4000)
    se = est.std(0) / np.sqrt(len(estimates))
    assert torch.all(torch.abs(est.mean(0) - exact) < 5 * se + 1e-9)


def _patches_loop(x, k, stride, pad):
    """Input patches by explicit loops, in unfold's (channel, row, column) order."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = []
    for i in range(n):
        for r in range(0, h + 2 * pad - k + 1, stride):
            for s in range(0, w + 2 * pad - k + 1, stride):
                rows.append(xp[i, :, r:r + k, s:s + k].reshape(-1))
    return np.array(rows)


def test_decor_conv2d_is_a_patchwise_decorrelator_with_the_numpy_update(rng):
    cfg = DecorrelationConfig(eta=1e-3, batch_fraction=0.5)
    x = rng.standard_normal((4, 2, 6, 6))
    layer = DecorConv2d(2, 3, 3, stride=2, padding=1, decorrelation=cfg, dtype=F64)
    M = np.eye(18) + 0.1 * rng.standard_normal((18, 18))
    layer.M = _t(M)
    W, b = layer.weight.detach().numpy().reshape(3, -1), layer.bias.detach().numpy()
    z = layer(_t(x)).detach().numpy()
    P = _patches_loop(x, 3, 2, 1)                      # (4·3·3, 18)
    want = (P @ M.T @ W.T + b).reshape(4, 3, 3, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(z, want, atol=1e-12)
    new_M, _ = linear_update(M, _patches_loop(x[:2], 3, 2, 1), replace_fraction(cfg))
    np.testing.assert_allclose(layer.M.numpy(), new_M, atol=1e-13)


def replace_fraction(cfg):
    from dataclasses import replace

    return replace(cfg, batch_fraction=1.0)


@pytest.mark.parametrize("feedback", ["fa", "signfa"])
def test_conv_feedback_with_forward_weights_is_backprop_and_random_b_changes_only_dx(rng,
                                                                                    feedback):
    x = _t(rng.standard_normal((3, 2, 5, 5))).requires_grad_()
    kw = {"padding": 1, "decorrelation": DecorrelationConfig(), "auto_update": False,
          "dtype": F64}
    bp = DecorConv2d(2, 4, 3, **kw)
    fa = DecorConv2d(2, 4, 3, feedback=feedback, **kw)
    M = _t(np.eye(18) + 0.1 * rng.standard_normal((18, 18)))
    with torch.no_grad():
        fa.weight.copy_(bp.weight)
        fa.bias.copy_(bp.bias)
    bp.M = fa.M = M
    out_grad = _t(rng.standard_normal((3, 4, 5, 5)))
    grads = []
    for layer in (bp, fa):
        x.grad = None
        layer(x).backward(out_grad)
        grads.append((x.grad.clone(), layer.weight.grad.clone()))
    np.testing.assert_allclose(grads[1][1].numpy(), grads[0][1].numpy(), atol=1e-12)
    assert not torch.allclose(grads[1][0], grads[0][0])
    # the input error is the transposed convolution with the kernel B M
    B = fa.feedback_matrix().reshape(4, -1)
    fb = (B @ M).reshape(4, 2, 3, 3)
    xx = x.detach().clone().requires_grad_()
    torch.nn.functional.conv2d(xx, fb, padding=1).backward(out_grad)
    np.testing.assert_allclose(grads[1][0].numpy(), xx.grad.numpy(), atol=1e-12)


def test_conv_perturbation_gradient_matches_the_patch_sum(rng):
    layer = DecorConv2d(2, 3, 3, padding=1, decorrelation=DecorrelationConfig(),
                        auto_update=False, dtype=F64)
    M = np.eye(18) + 0.1 * rng.standard_normal((18, 18))
    layer.M = _t(M)
    x = rng.standard_normal((2, 2, 4, 4))
    delta = rng.standard_normal((2, 3, 4, 4))
    from neurodecorr.torch import local_gradients

    local_gradients(layer, _t(x), _t(delta))
    P = _patches_loop(x, 3, 1, 1)
    D = delta.transpose(0, 2, 3, 1).reshape(-1, 3)
    np.testing.assert_allclose(layer.weight.grad.numpy().reshape(3, -1), D.T @ P @ M.T,
                               atol=1e-12)


def test_dense_torch_network_forward_is_the_numpy_forward():
    trainer, X, _ = _numpy_trainer("bp")
    net = dense_net_from_numpy(trainer, torch.device("cpu"), F64)
    np.testing.assert_allclose(net(_t(X)).detach().numpy(), trainer.forward(X).logits,
                               atol=1e-13)
