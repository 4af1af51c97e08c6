"""Dense and convolutional stacks of decorrelated layers, trained by any of the six rules.

``z_l = layer_l(h_l)``, ``h_{l+1} = f(z_l)`` with a leaky ReLU ``f`` (identity after the last
layer, whose ``z`` are the logits), as the numpy :class:`~neurodecorr.core.network.Network`
(:mod:`neurodecorr.core.activation`).
Convolutional layers (3×3, stride 2, padding 1) come first; their output is flattened for the
dense layers. With DFA, every hidden output passes through a tap of :class:`DirectFeedback`.

A dense stack is the shared :class:`~neurodecorr.core.network.Network` in torch:
:meth:`DecorNet.from_network` builds the layers from a network's ``W``, ``b``, ``M`` and
activations, :meth:`DecorNet.write_to` writes trained ones back, so the torch engine's results
are saved, loaded and evaluated as the numpy engine's are.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurodecorr.core.network import Network
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError
from neurodecorr.torch.feedback import DirectFeedback
from neurodecorr.torch.layers import DecorConv2d, DecorLinear


class DecorNet(nn.Module):
    """A stack of :class:`DecorConv2d` then :class:`DecorLinear` layers.

    Parameters
    ----------
    layers : list of DecorConv2d / DecorLinear
        In forward order; convolutions first.
    negative_slope : float
        Leaky ReLU slope of the hidden layers.
    input_shape : tuple of int, optional
        ``(C, H, W)`` that flat input rows are reshaped to when the first layer is a
        convolution.
    direct : DirectFeedback, optional
        Taps for DFA.
    """

    def __init__(self, layers: list[DecorConv2d | DecorLinear], negative_slope: float,
                 input_shape: tuple[int, ...] | None = None,
                 direct: DirectFeedback | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.negative_slope = float(negative_slope)
        self.input_shape = input_shape
        self.direct = direct

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if isinstance(self.layers[0], DecorConv2d) and h.dim() == 2:
            h = h.reshape(h.shape[0], *self.input_shape)
        for i, layer in enumerate(self.layers[:-1]):
            h = F.leaky_relu(layer(self._shaped(layer, h)), self.negative_slope)
            if self.direct is not None:
                h = self.direct.tap(h, i)
        logits = self.layers[-1](self._shaped(self.layers[-1], h))
        return logits if self.direct is None else self.direct.output(logits)

    @staticmethod
    def _shaped(layer: nn.Module, h: torch.Tensor) -> torch.Tensor:
        """Flatten feature maps before the first dense layer."""
        return h.flatten(1) if isinstance(layer, DecorLinear) and h.dim() > 2 else h

    @classmethod
    def from_network(cls, network: Network, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float64,
                     decorrelation: DecorrelationConfig | None = None,
                     **layer_options) -> DecorNet:
        """Dense layers holding a copy of ``network``'s ``W``, ``b`` and ``M``.

        The network must have the shape a :class:`DecorNet` computes: hidden layers with one
        leaky ReLU slope (ReLU is slope 0), a linear output layer. ``decorrelation`` is the
        rule its decorrelated layers learn with (the defaults when ``None``);
        ``layer_options`` go to every :class:`DecorLinear` (``feedback``, ``forward_demean``,
        ...).
        """
        hidden, last = network.layers[:-1], network.layers[-1]
        slopes = {layer.slope for layer in hidden}
        if (last.activation != "identity" or len(slopes) > 1
                or any(layer.activation == "identity" for layer in hidden)):
            raise NeurodecorrError(
                "network: the torch engine computes leaky-ReLU hidden layers of one slope and a "
                "linear output layer; got activations "
                f"{[layer.activation for layer in network.layers]} with slopes "
                f"{[layer.slope for layer in network.layers]}")
        layers = []
        for source in network.layers:
            W = source.weight
            layer = DecorLinear(W.shape[1], W.shape[0], auto_update=False, device=device,
                                dtype=dtype, decorrelation=None if source.decorrelation is None
                                else decorrelation or DecorrelationConfig(), **layer_options)
            with torch.no_grad():
                layer.weight.copy_(_tensor(W, layer.weight))
                layer.bias.copy_(_tensor(source.bias, layer.weight))
                if source.decorrelation is not None:
                    layer.M = _tensor(source.decorrelation, layer.weight)
            layers.append(layer)
        return cls(layers, slopes.pop() if slopes else 0.0)

    def write_to(self, network: Network) -> Network:
        """Write this stack's ``W``, ``b`` and ``M`` into ``network``'s arrays (float64, in
        place) and return it; the shapes must agree."""
        if any(not isinstance(layer, DecorLinear) for layer in self.layers):
            raise NeurodecorrError("a convolutional network (--conv) is not a Network: it cannot "
                                   "be saved, checkpointed or evaluated as one")
        for target, layer in zip(network.layers, self.layers, strict=True):
            target.weight[...] = _array(layer.weight)
            target.bias[...] = _array(layer.bias)
            if target.decorrelation is not None:
                target.decorrelation = _array(layer.M)
        return network


def _tensor(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.array(a), dtype=like.dtype, device=like.device)


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy().copy()
