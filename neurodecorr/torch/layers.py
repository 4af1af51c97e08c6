"""Drop-in torch layers that decorrelate their input: :class:`DecorLinear`, :class:`DecorConv2d`.

Each layer holds a decorrelating matrix ``M`` (a buffer, learned by its own local rule, never by
the optimiser) and computes ``z = W (M x) + b`` (Ahmad 2024, arXiv 2407.10780). The convolution
decorrelates every input patch of ``C·kh·kw`` values, as the author's ``Decorrelator2D``
(CorrelationsRuinGD, ``crgd/decor.py``); here the product is fused into one kernel
``K = W M`` (``O × C·kh·kw``, cheap beside the convolution), so the forward pass costs one
convolution, and only the ``k`` subsampled images are unfolded into patches for the update.

Options, per layer:

- ``decorrelation``: a :class:`~neurodecorr.core.rules.DecorrelationConfig` (rule ``ahmad``,
  ``copi`` or ``dbp``, η, κ, batch fraction, centring of the estimate), or ``None``;
- ``forward_demean``: subtract a per-feature mean before ``M`` in the forward pass (batch mean
  in training, running mean with the config's momentum in evaluation), the author's later code;
- ``feedback``: ``"bp"`` (exact gradient), ``"fa"`` (fixed random ``B``, Lillicrap et al.
  2016) or ``"signfa"`` (``B = s·sign(W)``); the error passes through ``Mᵀ`` as in BP;
- ``auto_update``: update ``M`` in every training-mode forward (drop-in use); ``False`` leaves
  it to an explicit :meth:`update_decorrelation` call (a trainer with two passes per batch).

In a training-mode forward pass ``M`` is replaced, never changed in place, so the graph of the
pass that used it stays valid; a trainer that updates after the backward pass
(``update_from_record(in_place=True)``) writes it in place, which saves a copy of ``M``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from neurodecorr.core.linear import subsample_rows
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError
from neurodecorr.torch.decorrelation import decorrelation_step, step_eta
from neurodecorr.torch.feedback import (
    conv2d_feedback,
    kaiming_uniform_feedback,
    linear_feedback,
)

FEEDBACK = ("bp", "fa", "signfa")


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class _Decorrelated(nn.Module):
    """What both layers share: ``M``, the means, the feedback and the decorrelation step."""

    def _setup(self, n: int, weight_shape: tuple[int, ...], bias: bool,
               decorrelation: DecorrelationConfig | None, forward_demean: bool, feedback: str,
               feedback_scale: float, auto_update: bool, generator: torch.Generator | None,
               factory: dict) -> None:
        if feedback not in FEEDBACK:
            raise NeurodecorrError(f"feedback: unknown '{feedback}'; choose one of: "
                                   f"{', '.join(FEEDBACK)}")
        self.config = decorrelation
        self.forward_demean = bool(forward_demean)
        self.feedback_mode = feedback
        self.auto_update = auto_update
        fan_in = math.prod(weight_shape[1:])
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear / nn.Conv2d's default initialisation
        self.weight = nn.Parameter(
            (torch.rand(weight_shape, generator=generator, **factory) * 2 - 1) * bound)
        self.bias = (nn.Parameter((torch.rand(weight_shape[0], generator=generator, **factory)
                                   * 2 - 1) * bound) if bias else None)
        self.register_buffer("M", torch.eye(n, **factory) if decorrelation else None)
        centre = decorrelation is not None and decorrelation.centre
        self.register_buffer("estimate_mean", torch.zeros(n, **factory) if centre else None)
        self.register_buffer("forward_mean", torch.zeros(weight_shape[1], **factory)
                             if forward_demean else None)
        self.register_buffer("B", kaiming_uniform_feedback(weight_shape, feedback_scale,
                                                           generator, **factory)
                             if feedback == "fa" else None)
        rms = float(torch.sqrt(torch.mean(self.weight.detach() ** 2)))
        # a buffer, so that a state dict restores the sign-FA scale ``s`` with ``W``
        self.register_buffer("sign_scale", torch.tensor(feedback_scale * rms, **factory)
                             if feedback == "signfa" else None)
        # buffers, so that ``.to(device)`` moves them with the layer; not saved in state dicts
        self.register_buffer("last_gain", torch.ones((), **factory), persistent=False)
        self.register_buffer("eta_shrunk", torch.zeros((), dtype=torch.long,
                                                       device=factory.get("device")),
                             persistent=False)
        #: added to ``z`` when set (node perturbation)
        self.noise: torch.Tensor | None = None
        #: when true, the forward pass keeps ``last_input`` (after demeaning) and ``last_z``
        self.record = False
        #: when true, ``z_with_grad.grad`` holds ``∂L/∂z`` after a backward pass (diagnostics)
        self.retain_error = False
        self.z_with_grad: torch.Tensor | None = None
        #: when true, a training-mode pass updates neither ``M`` nor the running means
        #: (the second, noisy pass of node perturbation)
        self.passive = False
        self.last_input: torch.Tensor | None = None
        self.last_xbar: torch.Tensor | None = None
        self.last_z: torch.Tensor | None = None

    @property
    def momentum(self) -> float:
        return self.config.momentum if self.config is not None else 0.1

    def feedback_matrix(self) -> torch.Tensor | None:
        """``B`` (flattened like ``W``) for FA/sign-FA, ``None`` for BP."""
        if self.feedback_mode == "fa":
            return self.B
        if self.feedback_mode == "signfa":
            return self.sign_scale * torch.sign(self.weight.detach())
        return None

    def _demean(self, x: torch.Tensor) -> torch.Tensor:
        if self.forward_mean is None:
            return x
        dims = [0, *range(2, x.dim())]
        if self.training:
            mean = x.detach().mean(dims)
            if not self.passive:
                self.forward_mean = (1 - self.momentum) * self.forward_mean + self.momentum * mean
        else:
            mean = self.forward_mean
        return x - mean.view(1, -1, *([1] * (x.dim() - 2)))

    def update_decorrelation(self, X: torch.Tensor, Xbar: torch.Tensor | None,
                             config: DecorrelationConfig | None = None,
                             in_place: bool = False) -> None:
        """One step of ``M`` from decorrelator inputs ``X`` and states ``X̄`` (rows = samples;
        ``X̄`` may be ``None``, see :func:`~neurodecorr.torch.decorrelation.decorrelation_step`).

        ``config`` overrides the layer's settings for this step; ``in_place`` writes the new
        ``M`` into the old one (only once no graph needs it any more). The running mean of the
        estimate is updated first (``centre``); η is shrunk for this step when
        ``η·⟨‖x‖²⟩ ≥ 1`` and the shrunk steps are counted in ``eta_shrunk``.
        """
        config = config or self.config
        if config is None:
            return
        with torch.no_grad():
            if self.estimate_mean is not None:
                m = config.momentum
                self.estimate_mean = (1 - m) * self.estimate_mean + m * X.mean(0)
            eta, shrunk = step_eta(X, config.eta)
            self.eta_shrunk += shrunk
            self.M, self.last_gain = decorrelation_step(self.M, X, Xbar, config,
                                                        self.estimate_mean, eta, in_place)

    def _perturb(self, x_in: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z = z if self.noise is None else z + self.noise
        if self.record:
            self.last_input, self.last_z = x_in.detach(), z.detach()
        if self.retain_error and z.requires_grad:
            z.retain_grad()
            self.z_with_grad = z
        return z


class DecorLinear(_Decorrelated):
    """``z = W M (x − μ) + b``: a dense layer whose input is decorrelated by a learned ``M``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    decorrelation : DecorrelationConfig or None
        Rule and settings of ``M`` (``None``: a plain layer, ``M = I``).
    forward_demean : bool
    feedback : {"bp", "fa", "signfa"}
    feedback_scale : float
        Scale of ``B``: ``U(±scale·√(6/in))`` for FA; ``scale·rms(W₀)`` for sign-FA.
    auto_update : bool
    generator : torch.Generator, optional
        Draws ``W``, ``b`` (``U(±1/√in)``, as ``nn.Linear``) and ``B``.
    device, dtype
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 decorrelation: DecorrelationConfig | None = None, forward_demean: bool = False,
                 feedback: str = "bp", feedback_scale: float = 1.0, auto_update: bool = True,
                 generator: torch.Generator | None = None, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._setup(in_features, (out_features, in_features), bias, decorrelation,
                    forward_demean, feedback, feedback_scale, auto_update, generator,
                    {"device": device, "dtype": dtype})

    def decorrelate(self, x: torch.Tensor) -> torch.Tensor:
        """``x̄ = M (x − μ)`` for the rows of ``x`` (shape ``(*, in_features)``)."""
        lead = x.shape[:-1]
        x = self._demean(x.reshape(-1, x.shape[-1]))
        x = x if self.M is None else x @ self.M.T
        return x.reshape(*lead, x.shape[-1])

    def fused(self, n_rows: int) -> bool:
        """Multiply by ``W M`` (``out·in²``) rather than form ``X̄`` (``N·in²``): narrow layers."""
        return self.M is not None and self.out_features < n_rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(*, in_features)`` as for ``nn.Linear``; any leading dimensions are
        flattened into rows for the statistics and the update of ``M`` (every row one sample),
        and the output has shape ``(*, out_features)``."""
        if x.dim() == 2:
            return self._forward_rows(x)
        lead = x.shape[:-1]
        z = self._forward_rows(x.reshape(-1, x.shape[-1]))
        return z.reshape(*lead, z.shape[-1])

    def _forward_rows(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self._demean(x)
        B = self.feedback_matrix()
        if self.fused(x_in.shape[0]):
            xbar, weight = None, self.weight @ self.M
            B = None if B is None else B @ self.M
            inputs = x_in
        else:
            xbar = x_in if self.M is None else x_in @ self.M.T
            weight, inputs = self.weight, xbar
        z = (F.linear(inputs, weight, self.bias) if B is None
             else linear_feedback(inputs, weight, self.bias, B))
        xbar = None if xbar is None else xbar.detach()
        if self.training and self.auto_update and not self.passive:
            self.update_decorrelation(x_in.detach(), xbar)
        if self.record:
            self.last_xbar = xbar
        return self._perturb(x_in, z)

    def update_from_record(self, in_place: bool = False) -> None:
        """Update ``M`` from the last recorded clean pass (trainers with ``auto_update=False``);
        ``in_place`` once the backward pass is done (see :meth:`update_decorrelation`)."""
        self.update_decorrelation(self.last_input, self.last_xbar, in_place=in_place)


class DecorConv2d(_Decorrelated):
    """A convolution whose every input patch is decorrelated: ``z = W M p + b`` per position.

    ``p`` is the ``C·kh·kw`` patch (``F.unfold`` order: channel, then kernel row and column),
    ``W`` has shape ``(out_channels, C, kh, kw)`` as in ``nn.Conv2d``, ``M`` is square on the
    patch. The forward pass is one convolution with the fused kernel ``W M``; the update
    unfolds only the first ``k = max(1, round(f·N))`` images and takes every patch of them as a
    sample (estimate and gain both on those patches).

    Parameters are those of :class:`DecorLinear` plus ``kernel_size``, ``stride``, ``padding``,
    ``dilation`` (ints or pairs).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, decorrelation: DecorrelationConfig | None = None,
                 forward_demean: bool = False, feedback: str = "bp", feedback_scale: float = 1.0,
                 auto_update: bool = True, generator: torch.Generator | None = None,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        shape = (out_channels, in_channels, *self.kernel_size)
        self._setup(in_channels * self.kernel_size[0] * self.kernel_size[1], shape, bias,
                    decorrelation, forward_demean, feedback, feedback_scale, auto_update,
                    generator, {"device": device, "dtype": dtype})

    def _fused(self, kernel: torch.Tensor) -> torch.Tensor:
        if self.M is None:
            return kernel
        return (kernel.reshape(kernel.shape[0], -1) @ self.M).reshape(kernel.shape)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Rows of input patches, shape ``(N·positions, C·kh·kw)``."""
        cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self._demean(x)
        kernel = self._fused(self.weight)
        B = self.feedback_matrix()
        conv = (self.stride, self.padding, self.dilation)
        z = (F.conv2d(x_in, kernel, self.bias, *conv) if B is None
             else conv2d_feedback(x_in, kernel, self.bias, self._fused(B), *conv))
        if self.training and self.auto_update and not self.passive:
            self.update_from_input(x_in.detach())
        return self._perturb(x_in, z)

    def update_from_record(self, in_place: bool = False) -> None:
        """Update ``M`` from the last recorded clean pass (trainers with ``auto_update=False``);
        ``in_place`` once the backward pass is done (see :meth:`update_decorrelation`)."""
        self.update_from_input(self.last_input, in_place)

    def update_from_input(self, x_in: torch.Tensor, in_place: bool = False) -> None:
        """Update ``M`` from the patches of the first ``k`` images of the (demeaned) input."""
        if self.config is None:
            return
        k = subsample_rows(x_in.shape[0], self.config.batch_fraction)
        P = self.patches(x_in[:k])
        self.update_decorrelation(P, None, replace(self.config, batch_fraction=1.0), in_place)
