"""The torch training engine's layers as a backend of the shared
:class:`~neurodecorr.core.network.Network`.

:class:`TorchEngineBackend` computes a forward pass with the very layers the torch engine
trains (:class:`~neurodecorr.torch.layers.DecorLinear` in a
:class:`~neurodecorr.torch.network.DecorNet`, built by :meth:`DecorNet.from_network`), and
returns the :class:`~neurodecorr.core.forward.Trace` every backend returns: per layer the input
``x``, the decorrelated input ``x̄ = M x`` and ``z = W x̄ + b`` (plus ``noise[l]`` when given,
through the layer's own perturbation hook, as node perturbation uses it). All fields are filled.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodecorr.core.forward import Trace
from neurodecorr.core.network import Network
from neurodecorr.reference.device import resolve_device, resolve_dtype
from neurodecorr.torch.network import DecorNet


class TorchEngineBackend:
    """The torch engine's forward pass (CPU or CUDA, float32 or float64).

    Parameters
    ----------
    device : str
        ``auto`` (CUDA when present), ``cuda`` or ``cpu``.
    dtype : str or torch.dtype
        ``float64`` by default (the precision the engine is checked against numpy in).
    """

    name = "torch-engine"

    def __init__(self, device: str = "auto", dtype: str | torch.dtype = torch.float64) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    @torch.no_grad()
    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        net = DecorNet.from_network(network, self.device, self.dtype)
        for i, layer in enumerate(net.layers):
            layer.record = True
            layer.noise = None if noise is None else self._tensor(noise[i])
        net.eval()
        net(self._tensor(np.atleast_2d(X)))

        def arr(t: torch.Tensor) -> np.ndarray:
            return t.cpu().numpy().astype(np.float64)

        # a layer that multiplies by W M directly (narrow, many rows) never forms x̄ itself
        xbars = [layer.last_xbar if layer.last_xbar is not None
                 else layer.decorrelate(layer.last_input) for layer in net.layers]
        return Trace(x=[arr(layer.last_input) for layer in net.layers],
                     xbar=[arr(x) for x in xbars],
                     z=[arr(layer.last_z) for layer in net.layers])
