"""A decorrelated 40-32-10 MLP on MNIST-1D shared by the Lava tests ."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core import DecorrelationConfig, Layer, LinearDecorrelator, Network
from neurodecorr.data import load_dataset


def _fit_decorrelation(H: np.ndarray, seed: int, iters: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dec = LinearDecorrelator(H.shape[1],
                             DecorrelationConfig(eta=0.2 / np.mean(np.sum(H**2, axis=1))))
    for _ in range(iters):
        dec.update(H[rng.choice(len(H), 256, replace=False)])
    return dec.M


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d")


@pytest.fixture(scope="module")
def trained(mnist1d, tmp_path_factory):
    """A decorrelated 40-32-10 MLP trained on MNIST-1D (Adam, 400 full-batch steps), saved."""
    X, Y = mnist1d.x_train, np.eye(10)[mnist1d.y_train]
    M0 = _fit_decorrelation(X, seed=0)
    Xb = X @ M0.T
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((32, 40)) / np.sqrt(40), np.zeros(32),
              rng.standard_normal((10, 32)) / np.sqrt(32), np.zeros(10)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for it in range(1, 401):
        W0, b0, W1, b1 = params
        z = Xb @ W0.T + b0
        h = np.where(z > 0, z, 0.01 * z)
        o = h @ W1.T + b1
        p = np.exp(o - o.max(1, keepdims=True))
        g = (p / p.sum(1, keepdims=True) - Y) / len(X)
        gz = (g @ W1) * np.where(z > 0, 1.0, 0.01)
        for k, grad in enumerate([gz.T @ Xb, gz.sum(0), g.T @ h, g.sum(0)]):
            m[k] = 0.9 * m[k] + 0.1 * grad
            v[k] = 0.999 * v[k] + 0.001 * grad**2
            params[k] -= 0.01 * (m[k] / (1 - 0.9**it)) / (np.sqrt(v[k] / (1 - 0.999**it)) + 1e-8)
    W0, b0, W1, b1 = params
    z = Xb @ W0.T + b0
    M1 = _fit_decorrelation(np.where(z > 0, z, 0.01 * z), seed=2)
    # keep the readout's function while its input is decorrelated: W1 x = (W1 M1⁻¹)(M1 x)
    net = Network([Layer(W0, b0, M0, "leaky_relu"),
                   Layer(W1 @ np.linalg.inv(M1), b1, M1, "identity")])
    path = tmp_path_factory.mktemp("lava") / "net.npz"
    net.save(path)
    return net, path
