"""Exact forward pass of a :class:`~neurodecorr.core.network.Network` in torch: a backend.

:class:`TorchReference` computes every operation of a layer in torch (CUDA when available) and
runs them through the one forward loop of :mod:`neurodecorr.core.forward`, so its
:class:`~neurodecorr.core.forward.Trace` can be compared field by field with the numpy backend's
and the chip's.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodecorr.core.forward import Trace, run_layers
from neurodecorr.core.network import Network
from neurodecorr.reference.device import resolve_device, resolve_dtype


class TorchReference:
    """The exact pass in torch.

    Each layer computes ``x̄ = M x`` (or, with ``lateral=True``, the circuit's exact fixed point
    ``x̄ = A⁻¹ x`` with ``A = M⁻¹`` by a linear solve), then ``z = W x̄ + b`` and the layer's
    activation ``f(z) = z`` above zero, ``s z`` below (:mod:`neurodecorr.core.activation`).
    Trace arrays come back as float64 numpy arrays.
    """

    name = "torch"

    def __init__(self, device: str = "auto", dtype: str | torch.dtype = torch.float64,
                 lateral: bool = False) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.lateral = lateral
        self.network: Network | None = None

    def _t(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    @staticmethod
    def _np(t: torch.Tensor) -> np.ndarray:
        return t.cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def decorrelate(self, index: int, X: np.ndarray) -> np.ndarray:
        layer = self.network.layers[index]
        if layer.decorrelation is None:
            return X
        if self.lateral:
            return self._np(torch.linalg.solve(self._t(layer.lateral), self._t(X).T).T)
        return self._np(self._t(X) @ self._t(layer.decorrelation).T)

    @torch.no_grad()
    def project(self, index: int, Xbar: np.ndarray) -> np.ndarray:
        layer = self.network.layers[index]
        return self._np(self._t(Xbar) @ self._t(layer.weight).T + self._t(layer.bias))

    @torch.no_grad()
    def activate(self, index: int, Z: np.ndarray) -> np.ndarray:
        z = self._t(Z)
        return self._np(torch.where(z > 0, z, self.network.layers[index].slope * z))

    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        self.network = network
        return run_layers(self, network.n_layers, X, noise)


def forward(network: Network, X: np.ndarray, device: str = "auto",
            dtype: str | torch.dtype = torch.float64, lateral: bool = False) -> np.ndarray:
    """Outputs ``f(z)`` of the last layer of ``network`` for inputs ``X``, computed in torch
    (see :class:`TorchReference`)."""
    backend = TorchReference(device, dtype, lateral)
    trace = backend.forward(network, X)
    out = backend.activate(network.n_layers - 1, trace.z[-1])
    return out if np.ndim(X) > 1 else out[0]
