"""Exact forward pass of a :class:`~neurodecorr.core.network.Network` in torch."""

from __future__ import annotations

import numpy as np
import torch

from neurodecorr.core.network import Network
from neurodecorr.reference.device import resolve_device, resolve_dtype


def _activate(z: torch.Tensor, name: str, negative_slope: float) -> torch.Tensor:
    if name == "identity":
        return z
    if name == "relu":
        return torch.relu(z)
    return torch.nn.functional.leaky_relu(z, negative_slope)


@torch.no_grad()
def forward(network: Network, X: np.ndarray, device: str = "auto",
            dtype: str | torch.dtype = torch.float64, lateral: bool = False) -> np.ndarray:
    """Logits of ``network`` for inputs ``X`` (rows are samples), computed in torch.

    Each layer computes ``x̄ = M x`` (or, with ``lateral=True``, the circuit's exact fixed point
    ``x̄ = A⁻¹ x`` with ``A = M⁻¹`` by a linear solve), then ``f(W x̄ + b)``.
    """
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    h = torch.as_tensor(np.atleast_2d(X), dtype=dt, device=dev)
    for layer in network.layers:
        if layer.decorrelation is not None:
            if lateral:
                A = torch.as_tensor(layer.lateral, dtype=dt, device=dev)
                h = torch.linalg.solve(A, h.T).T
            else:
                h = h @ torch.as_tensor(layer.decorrelation, dtype=dt, device=dev).T
        W = torch.as_tensor(layer.weight, dtype=dt, device=dev)
        b = torch.as_tensor(layer.bias, dtype=dt, device=dev)
        h = _activate(h @ W.T + b, layer.activation, layer.negative_slope)
    out = h.cpu().numpy()
    return out if np.ndim(X) > 1 else out[0]
