"""Per-layer diagnostics of a learning rule: does its step follow the gradient, the natural
gradient, and (FA) the conservation law of feedback alignment?

On a fixed batch, for every layer ``l``:

- ``cos_bp``: cosine between the rule's update ``∂L/∂W_l`` (what the optimiser receives; an
  estimate for FA, DFA, NP, ANP) and the backpropagated gradient;
- ``natural_alignment``: :func:`~neurodecorr.core.metrics.natural_gradient_alignment` of the
  rule's errors ``δ_l`` with the true ones ``δ*_l``: the cosine between the step of the
  effective weights ``W_l M_l``, ``⟨δ xᵀ⟩MᵀM``, and the natural step ``⟨δ* xᵀ⟩⟨xxᵀ⟩⁻¹``
  (damped, since a hidden layer's sample covariance is often singular); dense layers only;
- ``invariant_*`` (``fa``, ``signfa``, hidden layers): the per-neuron quantity of
  :func:`~neurodecorr.core.metrics.feedback_alignment_invariant`, its mean, and its drift since
  the start, ``rms_i(Q_i − Q_i(0)) / rms_i(½‖w_in,i(0)‖²)``, which FA's gradient flow keeps at 0.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodecorr.core.metrics import (
    cosine,
    feedback_alignment_invariant,
    natural_gradient_alignment,
)
from neurodecorr.torch.layers import DecorLinear
from neurodecorr.torch.network import DecorNet
from neurodecorr.torch.perturbation import perturbation_gradients

#: damping of the natural step, relative to the mean eigenvalue of ``⟨xxᵀ⟩``
DAMPING = 1e-3


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def _errors(net: DecorNet, X: torch.Tensor, y: torch.Tensor, algorithm: str, sigma: float,
            generator: torch.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The rule's weight updates and errors ``δ_l`` on ``(X, y)`` (nothing is changed)."""
    layers = list(net.layers)
    for layer in layers:
        layer.weight.grad = None
        layer.bias.grad = None
    if algorithm in ("np", "anp"):
        _, deltas = perturbation_gradients(
            layers, lambda: net(X),
            lambda logits: F.cross_entropy(logits, y, reduction="none"), sigma, algorithm,
            generator=generator)
    else:
        for layer in layers:
            layer.retain_error = True
        try:
            F.cross_entropy(net(X), y).backward()
            deltas = [layer.z_with_grad.grad for layer in layers]
        finally:
            for layer in layers:
                layer.retain_error, layer.z_with_grad = False, None
    grads = [_numpy(layer.weight.grad) for layer in layers]
    for layer in layers:
        layer.weight.grad = None
        layer.bias.grad = None
    return grads, [_numpy(d) for d in deltas]


def _as_backprop(net: DecorNet):
    """Switch ``net`` to exact backpropagation; returns what restores it."""
    saved = (net.direct, [layer.feedback_mode for layer in net.layers])
    net.direct = None
    for layer in net.layers:
        layer.feedback_mode = "bp"

    def restore() -> None:
        net.direct = saved[0]
        for layer, mode in zip(net.layers, saved[1], strict=True):
            layer.feedback_mode = mode
    return restore


def feedback_invariants(net: DecorNet) -> list[np.ndarray | None]:
    """``Q_i`` of every hidden dense layer whose upper layer has FA or sign-FA feedback."""
    out: list[np.ndarray | None] = []
    layers = list(net.layers)
    for lower, upper in zip(layers[:-1], layers[1:], strict=True):
        B = upper.feedback_matrix()
        if B is None or not isinstance(lower, DecorLinear) or not isinstance(upper, DecorLinear):
            out.append(None)
            continue
        out.append(feedback_alignment_invariant(_numpy(lower.weight), _numpy(lower.bias),
                                                _numpy(upper.weight), _numpy(B)))
    return out + [None]


class Diagnostics:
    """Diagnostics of one training run, measured on a fixed batch after every epoch.

    Parameters
    ----------
    net : DecorNet
        The network being trained (read, never changed).
    X, y : Tensor
        The fixed diagnostic batch.
    algorithm : str
    sigma : float
        Node-perturbation noise (np, anp).
    seed : int
        Seeds the diagnostics' own noise, so training's random stream is untouched.
    """

    def __init__(self, net: DecorNet, X: torch.Tensor, y: torch.Tensor, algorithm: str,
                 sigma: float, seed: int) -> None:
        self.net, self.X, self.y = net, X, y
        self.algorithm, self.sigma = algorithm, sigma
        self.generator = torch.Generator(device=X.device).manual_seed(seed)
        self.initial = feedback_invariants(net)
        #: rms over neurons of ½‖w_in,i(0)‖², the scale of the drift
        self.scales = [float(np.sqrt(np.mean(np.square(
            0.5 * np.sum(_numpy(layer.weight.flatten(1)) ** 2, 1))))) for layer in net.layers]

    def measure(self) -> list[dict]:
        """One dict per layer: ``cos_bp``, ``natural_alignment`` and, for FA, the invariant."""
        net = self.net
        was_training = net.training
        net.eval()
        records = [layer.record for layer in net.layers]
        for layer in net.layers:
            layer.record = True
        try:
            grads, deltas = _errors(net, self.X, self.y, self.algorithm, self.sigma,
                                    self.generator)
            inputs = [_numpy(layer.last_input) for layer in net.layers]
            restore = _as_backprop(net)
            try:
                bp_grads, bp_deltas = _errors(net, self.X, self.y, "bp", self.sigma,
                                              self.generator)
            finally:
                restore()
        finally:
            for layer, on in zip(net.layers, records, strict=True):
                layer.record = on
            net.train(was_training)
        now = feedback_invariants(net)
        rows = []
        for i, layer in enumerate(net.layers):
            row = {"layer": i, "cos_bp": cosine(grads[i], bp_grads[i])}
            if isinstance(layer, DecorLinear):
                M = np.eye(layer.in_features) if layer.M is None else _numpy(layer.M)
                row["natural_alignment"] = natural_gradient_alignment(
                    inputs[i], deltas[i], M, reference_delta=bp_deltas[i], damping=DAMPING)
            if now[i] is not None:
                drift = np.sqrt(np.mean(np.square(now[i] - self.initial[i])))
                row["invariant_mean"] = float(np.mean(now[i]))
                row["invariant_drift"] = float(drift / self.scales[i])
            rows.append(row)
        return rows
