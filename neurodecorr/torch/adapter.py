"""The torch engine's one coupling to :mod:`neurodecorr.learning`: a numpy trainer's initial
state (weights, biases, feedback matrices, random stream) turned into torch layers.

Building from the numpy :class:`~neurodecorr.learning.trainer.Trainer` makes the two engines
start from the very same numbers and draw the same data order and perturbation noise, so that
in float64 they can be compared step by step.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.trainer import Trainer
from neurodecorr.torch.feedback import DirectFeedback
from neurodecorr.torch.layers import DecorLinear
from neurodecorr.torch.network import DecorNet

#: algorithm -> feedback of every DecorLinear
LAYER_FEEDBACK = {"bp": "bp", "fa": "fa", "signfa": "signfa", "dfa": "bp", "np": "bp",
                  "anp": "bp"}


def _tensor(a: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.array(a), dtype=dtype, device=device)


def dense_net_from_numpy(trainer: Trainer, device: torch.device, dtype: torch.dtype,
                         forward_demean: bool = False) -> DecorNet:
    """A :class:`DecorNet` holding a copy of ``trainer``'s current network and rule state."""
    config, rule = trainer.config, trainer.rule
    if config.algorithm in ("fa", "signfa") and not config.fa_through_decorrelation:
        raise NeurodecorrError("--fa-skip-decorrelation: not available on the torch engine")
    feedback = LAYER_FEEDBACK[config.algorithm]
    layers = []
    for i, source in enumerate(trainer.network.layers):
        W, b, M = source.weight, source.bias, source.decorrelation
        layer = DecorLinear(W.shape[1], W.shape[0], decorrelation=config.decorrelation_config(),
                            forward_demean=forward_demean, feedback=feedback,
                            feedback_scale=config.feedback_scale, auto_update=False,
                            device=device, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(_tensor(W, device, dtype))
            layer.bias.copy_(_tensor(b, device, dtype))
            if M is not None:
                layer.M = _tensor(M, device, dtype)
            if trainer.decor_means[i] is not None:
                layer.estimate_mean = _tensor(trainer.decor_means[i], device, dtype)
            if feedback == "fa":
                layer.B = _tensor(rule.feedback[i], device, dtype)
            if feedback == "signfa":
                layer.sign_scale = float(rule.scales[i])
        layers.append(layer)
    direct = (DirectFeedback([_tensor(B, device, dtype) for B in rule.feedback[:-1]])
              if config.algorithm == "dfa" else None)
    return DecorNet(layers, config.negative_slope, direct=direct)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def write_back(net: DecorNet, optimizer: torch.optim.Adam, trainer: Trainer) -> Trainer:
    """Copy a dense torch network's learned state into the numpy ``trainer`` built with the same
    configuration (the inverse of :func:`dense_net_from_numpy`), so that it can be saved by
    :func:`neurodecorr.learning.checkpoint.save_checkpoint`.

    Copied: ``W``, ``b``, ``M``, the decorrelators' running means and Adam's moments and step
    count (``torch.optim.Adam`` and :class:`neurodecorr.learning.adam.Adam` are the same
    algorithm, parameters in the same order ``W_0, b_0, W_1, ...``). The rule's fixed matrices
    never change while training and are the trainer's own.
    """
    params = list(net.parameters())
    if [tuple(p.shape) for p in params] != [np.shape(p) for p in trainer.parameters]:
        raise NeurodecorrError("the torch network does not have the numpy network's layers")
    for i, (layer, target) in enumerate(zip(net.layers, trainer.network.layers, strict=True)):
        target.weight[...] = _numpy(layer.weight)
        target.bias[...] = _numpy(layer.bias)
        if target.decorrelation is not None:
            target.decorrelation = _numpy(layer.M)
        if trainer.decor_means[i] is not None:
            trainer.decor_means[i] = _numpy(layer.estimate_mean)
    step = 0
    for p, m, v in zip(params, trainer.adam.m, trainer.adam.v, strict=True):
        state = optimizer.state.get(p, {})
        if state:
            m[...] = _numpy(state["exp_avg"])
            v[...] = _numpy(state["exp_avg_sq"])
            step = int(state["step"])
    trainer.adam.step_count = step
    return trainer


def load_adam_state(optimizer: torch.optim.Adam, trainer: Trainer) -> None:
    """Give ``optimizer`` (over the network built by :func:`dense_net_from_numpy`) the numpy
    trainer's Adam moments and step count."""
    if trainer.adam.step_count == 0:
        return
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for p, m, v in zip(params, trainer.adam.m, trainer.adam.v, strict=True):
        optimizer.state[p] = {
            # torch keeps the step as a CPU float tensor of the default dtype (non-capturable)
            "step": torch.tensor(float(trainer.adam.step_count), dtype=torch.get_default_dtype()),
            "exp_avg": _tensor(m, p.device, p.dtype),
            "exp_avg_sq": _tensor(v, p.device, p.dtype)}


class NumpyDiagnostics:
    """The torch diagnostics for a run of the numpy engine: after every epoch, the numpy
    network and rule state are copied into a float64 torch network and measured."""

    def __init__(self, trainer: Trainer) -> None:
        from neurodecorr.torch.diagnostics import Diagnostics
        from neurodecorr.torch.engine import DIAGNOSTIC_ROWS

        self.trainer = trainer
        rows = min(DIAGNOSTIC_ROWS, len(trainer.dataset.x_train))
        self.X = torch.as_tensor(trainer.dataset.x_train[:rows], dtype=torch.float64)
        self.y = torch.as_tensor(trainer.dataset.y_train[:rows], dtype=torch.long)
        self.diagnostics = Diagnostics(self._net(), self.X, self.y, trainer.config.algorithm,
                                   trainer.config.sigma, trainer.config.seed)

    def _net(self) -> DecorNet:
        return dense_net_from_numpy(self.trainer, torch.device("cpu"), torch.float64)

    def __call__(self, trainer: Trainer) -> None:
        """Measure and put the rows into the last history row (an ``after_epoch`` hook)."""
        self.diagnostics.net = self._net()
        trainer.history[-1]["diagnostics"] = self.diagnostics.measure()
