"""Dense and convolutional stacks of decorrelated layers, trained by any of the six rules.

``z_l = layer_l(h_l)``, ``h_{l+1} = f(z_l)`` with a leaky ReLU ``f`` (identity after the last
layer, whose ``z`` are the logits), as the numpy model of :mod:`neurodecorr.learning.model`.
Convolutional layers (3×3, stride 2, padding 1) come first; their output is flattened for the
dense layers. With DFA, every hidden output passes through a tap of :class:`DirectFeedback`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
