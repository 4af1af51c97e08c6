"""The torch reference agrees with the numpy core (float64, 1e-12 relative) on every device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import correlated_data

from neurodecorr import reference as ref
from neurodecorr.core import (
    DecorrelationConfig,
    Layer,
    Network,
    NumpyBackend,
    first_order_update,
    linear_update,
    sherman_morrison_update,
)
from neurodecorr.errors import NeurodecorrError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _t(a, device):
    return torch.as_tensor(a, dtype=torch.float64, device=device)


def _close(torch_value, numpy_value, rtol=1e-12):
    got = torch_value.cpu().numpy()
    scale = np.abs(numpy_value).max()
    np.testing.assert_allclose(got, numpy_value, rtol=0, atol=rtol * scale)


@pytest.fixture
def state(rng):
    d = 16
    M = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    X = correlated_data(rng, 64, d, 0.3)
    return M, X


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
def test_linear_update_agrees(state, device, rule):
    M, X = state
    cfg = DecorrelationConfig(rule=rule, eta=2e-3, kappa=0.3, batch_fraction=0.5)
    want, g = linear_update(M, X, cfg)
    got, g_t = ref.linear_update(_t(M, device), _t(X, device), cfg)
    _close(got, want)
    assert float(g_t) == pytest.approx(g, rel=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rule", ["ahmad", "copi", "dbp"])
def test_first_order_update_agrees(state, device, rule):
    M, X = state
    A = np.linalg.inv(M)
    Xbar = np.linalg.solve(A, X.T).T
    cfg = DecorrelationConfig(rule=rule, eta=2e-3, kappa=0.3)
    want, _ = first_order_update(A, X, Xbar, cfg)
    got, _ = ref.first_order_update(_t(A, device), _t(X, device), _t(Xbar, device), cfg)
    _close(got, want)


@pytest.mark.parametrize("device", DEVICES)
def test_sherman_morrison_and_fixed_point_agree(state, device):
    M, X = state
    A = np.linalg.inv(M)
    x = X[0]
    cfg = DecorrelationConfig(eta=1e-2)
    want, _ = sherman_morrison_update(A, x, np.linalg.solve(A, x), cfg)
    got, _ = ref.sherman_morrison_update(_t(A, device), _t(x, device), cfg)
    _close(got, want)
    _close(ref.fixed_point(_t(A, device), _t(X, device)), np.linalg.solve(A, X.T).T)
    _close(ref.transform(_t(M, device), _t(X, device)), X @ M.T)


@pytest.mark.parametrize("device", DEVICES)
def test_network_forward_agrees(rng, device):
    sizes = [12, 9, 5]
    layers = [Layer(weight=rng.normal(size=(o, i)) / np.sqrt(i), bias=rng.normal(size=o) * 0.1,
                    decorrelation=np.eye(i) + 0.1 * rng.normal(size=(i, i)),
                    activation="leaky_relu" if k == 0 else "identity")
              for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]
    net = Network(layers)
    X = rng.normal(size=(30, 12))
    want = net.forward(X)
    np.testing.assert_allclose(ref.forward(net, X, device=device), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ref.forward(net, X, device=device, lateral=True), want,
                               rtol=1e-10, atol=1e-11)
    # the torch backend's trace equals the numpy backend's, field by field
    numpy_trace = NumpyBackend().forward(net, X)
    torch_trace = ref.TorchReference(device=device).forward(net, X)
    for name in ("x", "xbar", "z"):
        for a, b in zip(getattr(torch_trace, name), getattr(numpy_trace, name), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_float32_reference_close_to_float64(rng):
    layers = [Layer(weight=rng.normal(size=(4, 6)), bias=np.zeros(4), activation="identity")]
    X = rng.normal(size=(5, 6))
    got = ref.forward(Network(layers), X, device="cpu", dtype="float32")
    np.testing.assert_allclose(got, Network(layers).forward(X), rtol=1e-5, atol=1e-5)


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        assert ref.resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(NeurodecorrError, match="no CUDA GPU"):
            ref.resolve_device("cuda")
    with pytest.raises(NeurodecorrError, match="unknown device"):
        ref.resolve_device("tpu")
