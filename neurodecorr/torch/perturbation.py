"""Node perturbation (NP) and activity-based node perturbation (ANP) for decorrelated layers.

Each batch runs twice through the user's model: clean, and with noise ``ξ_l ~ N(0, σ²)`` added
to every pre-activation ``z_l`` of the given layers. With ``ΔL = L_noisy − L_clean`` per sample,

- NP (Williams 1992): ``δ_l = ΔL · ξ_l / σ² / N``;
- ANP (Dalm, van Gerven & Ahmad 2023, arXiv 2310.00965): ``δ_l = ΔL · n / ‖δa‖² · δa_l / N``
  with ``δa_l = z̃_l − z_l`` the measured change of activity and ``n`` the number of perturbed
  nodes per sample, so no knowledge of σ is needed;

and every layer gets ``∂L/∂W_l ≈ δ_lᵀ x̄_l`` (summed over positions for a convolution) as its
``.grad``, ready for any torch optimiser. The numpy rules of
:mod:`neurodecorr.learning.rules.perturbation` are the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.grad import conv2d_weight

from neurodecorr.errors import NeurodecorrError
from neurodecorr.torch.layers import DecorConv2d, DecorLinear

PERTURBATION_RULES = ("np", "anp")


def _record(layers, flags: list[bool]) -> None:
    for layer, on in zip(layers, flags, strict=True):
        layer.record = on


def local_gradients(layer: DecorLinear | DecorConv2d, x_in: torch.Tensor,
                    delta: torch.Tensor) -> None:
    """Set ``layer.weight.grad = ∂(Σ δ·z)/∂W`` and the bias's, from its (demeaned) input."""
    with torch.no_grad():
        if isinstance(layer, DecorLinear):
            if layer.fused(x_in.shape[0]):
                layer.weight.grad = (delta.T @ x_in) @ layer.M.T
            else:
                layer.weight.grad = delta.T @ (x_in if layer.M is None else x_in @ layer.M.T)
            bias_grad = delta.sum(0)
        else:
            g = conv2d_weight(x_in, layer.weight.shape, delta, layer.stride, layer.padding,
                              layer.dilation)
            if layer.M is not None:
                g = (g.reshape(g.shape[0], -1) @ layer.M.T).reshape(g.shape)
            layer.weight.grad = g
            bias_grad = delta.sum((0, 2, 3))
        if layer.bias is not None:
            layer.bias.grad = bias_grad


def perturbation_gradients(layers: list[DecorLinear | DecorConv2d],
                           run: Callable[[], torch.Tensor],
                           losses: Callable[[torch.Tensor], torch.Tensor], sigma: float,
                           rule: str = "np",
                           noise: Callable[[tuple[int, ...]], torch.Tensor] | None = None,
                           generator: torch.Generator | None = None
                           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Estimate and assign the gradients of ``layers`` by one clean and one noisy pass.

    Parameters
    ----------
    layers : list of DecorLinear or DecorConv2d
        The perturbed layers, in forward order.
    run : callable
        ``run()`` runs the model on the batch and returns its logits.
    losses : callable
        Per-sample losses from logits, shape ``(N,)``.
    sigma : float
        Standard deviation of the noise on every pre-activation.
    rule : {"np", "anp"}
    noise : callable, optional
        ``noise(shape)`` draws standard normal numbers (called layer by layer, in order);
        default ``torch.randn`` with ``generator``.

    Returns
    -------
    logits : Tensor
        The clean logits.
    deltas : list of Tensor
        The estimated errors ``δ_l`` at every layer's pre-activation.
    """
    if rule not in PERTURBATION_RULES:
        raise NeurodecorrError(f"rule: unknown '{rule}'; choose one of: "
                               f"{', '.join(PERTURBATION_RULES)}")
    recording = [layer.record for layer in layers]
    with torch.no_grad():
        _record(layers, [True] * len(layers))
        try:
            clean_logits = run()
            clean = [(layer.last_input, layer.last_xbar, layer.last_z)
                     for layer in layers]
            inputs = [c[0] for c in clean]
            clean_z = [c[2] for c in clean]
            z0 = clean_z[0]
            draw = noise or (lambda shape: torch.randn(shape, generator=generator,
                                                       dtype=z0.dtype, device=z0.device))
            xis = [sigma * draw(tuple(z.shape)).to(dtype=z.dtype, device=z.device)
                   for z in clean_z]
            for layer, xi in zip(layers, xis, strict=True):
                layer.noise, layer.passive = xi, True
            noisy_logits = run()
            noisy_z = [layer.last_z for layer in layers]
            # the records of the clean pass are what the decorrelators learn from
            for layer, (x_in, xbar, z) in zip(layers, clean, strict=True):
                layer.last_input, layer.last_xbar, layer.last_z = x_in, xbar, z
        finally:
            for layer in layers:
                layer.noise, layer.passive = None, False
            _record(layers, recording)
        n = clean_logits.shape[0]
        dloss = losses(noisy_logits) - losses(clean_logits)
        if rule == "np":
            signals = xis
            coef = dloss / sigma ** 2 / n
        else:
            signals = [zn - zc for zn, zc in zip(noisy_z, clean_z, strict=True)]
            sq_norm = sum(torch.sum(torch.square(s.reshape(n, -1)), 1) for s in signals)
            n_nodes = sum(s[0].numel() for s in signals)
            coef = dloss * n_nodes / sq_norm / n
        deltas = [coef.view(-1, *([1] * (s.dim() - 1))) * s for s in signals]
        for layer, x_in, delta in zip(layers, inputs, deltas, strict=True):
            local_gradients(layer, x_in, delta)
    return clean_logits, deltas
