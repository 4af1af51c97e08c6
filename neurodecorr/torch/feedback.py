"""Feedback alignment as autograd functions: the error goes back through ``B``, not ``Wᵀ``.

- :func:`linear_feedback` / :func:`conv2d_feedback`: forward ``W x + b`` (or the convolution),
  backward ``∂L/∂x = Bᵀ δ`` while ``∂L/∂W = δ xᵀ`` stays exact (FA, Lillicrap et al. 2016;
  with ``B = s·sign(W)``, sign-concordant feedback, Liao, Leibo & Poggio 2016);
- :class:`DirectFeedback`: the output error ``e`` goes straight to every hidden layer,
  ``δ_l = f'(z_l) ⊙ B_lᵀ e`` (DFA, Nøkland 2016), by taps whose backward ignores the error
  arriving from above and returns ``e B_l`` instead.

The numpy rules of :mod:`neurodecorr.learning.rules.feedback` are the reference these match.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight


class _LinearFeedback(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, feedback):
        ctx.save_for_backward(x, feedback)
        ctx.has_bias = bias is not None
        out = x @ weight.T
        return out + bias if bias is not None else out

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback if ctx.needs_input_grad[0] else None
        grad_w = grad_out.T @ x if ctx.needs_input_grad[1] else None
        grad_b = grad_out.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None


def linear_feedback(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    feedback: torch.Tensor) -> torch.Tensor:
    """``x Wᵀ + b`` whose backward sends ``δ B`` (``B`` of ``W``'s shape) to ``x``."""
    return _LinearFeedback.apply(x, weight, bias, feedback)


class _Conv2dFeedback(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, feedback, stride, padding, dilation):
        ctx.save_for_backward(x, feedback)
        ctx.conv = (stride, padding, dilation)
        ctx.weight_shape = weight.shape
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        stride, padding, dilation = ctx.conv
        grad_x = (conv2d_input(x.shape, feedback, grad_out, stride, padding, dilation)
                  if ctx.needs_input_grad[0] else None)
        grad_w = (conv2d_weight(x, ctx.weight_shape, grad_out, stride, padding, dilation)
                  if ctx.needs_input_grad[1] else None)
        grad_b = (grad_out.sum((0, 2, 3)) if ctx.has_bias and ctx.needs_input_grad[2]
                  else None)
        return grad_x, grad_w, grad_b, None, None, None, None


def conv2d_feedback(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    feedback: torch.Tensor, stride=1, padding=0, dilation=1) -> torch.Tensor:
    """``conv2d(x, W) + b`` whose backward sends the error to ``x`` through kernel ``B``."""
    return _Conv2dFeedback.apply(x, weight, bias, feedback, stride, padding, dilation)


def kaiming_uniform_feedback(shape: tuple[int, ...], scale: float,
                             generator: torch.Generator | None = None, **tensor_options
                             ) -> torch.Tensor:
    """``U(−a, a)``, ``a = scale·√(6 / fan_in)``: the numpy rules' (and the paper code's) scale."""
    fan_in = math.prod(shape[1:])
    bound = scale * math.sqrt(6.0 / fan_in)
    return (torch.rand(shape, generator=generator, **tensor_options) * 2.0 - 1.0) * bound


class _Tap(torch.autograd.Function):
    """Identity forward; backward replaces the incoming error by ``e B`` (or records ``e``)."""

    @staticmethod
    def forward(ctx, h, hub, index):
        ctx.hub, ctx.index = hub, index
        return h.view_as(h)

    @staticmethod
    def backward(ctx, grad):
        hub = ctx.hub
        if ctx.index is None:
            hub.error = grad
            return grad, None, None
        B = hub.feedback[ctx.index]
        return (hub.error @ B).reshape(grad.shape), None, None


class DirectFeedback:
    """DFA for any stack: ``tap(h, l)`` on hidden outputs, ``output(logits)`` on the logits.

    ``feedback[l]`` has shape ``(classes, n_l)`` (``n_l`` the number of elements of one sample
    of hidden output ``l``, so convolutional maps work too). Autograd runs the output tap's
    backward first (the logits depend on every hidden layer), which records ``e = ∂L/∂logits``;
    each hidden tap then returns ``e B_l`` and the activation's derivative is applied by
    autograd, giving ``δ_l = f'(z_l) ⊙ B_lᵀ e``.
    """

    def __init__(self, feedback: list[torch.Tensor]) -> None:
        self.feedback = list(feedback)
        self.error: torch.Tensor | None = None

    def tap(self, h: torch.Tensor, index: int) -> torch.Tensor:
        return _Tap.apply(h, self, index)

    def output(self, logits: torch.Tensor) -> torch.Tensor:
        return _Tap.apply(logits, self, None)
