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
from neurodecorr.torch.network import DecorNet

#: algorithm -> feedback of every DecorLinear
LAYER_FEEDBACK = {"bp": "bp", "fa": "fa", "signfa": "signfa", "dfa": "bp", "np": "bp",
                  "anp": "bp"}


def _tensor(a: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.array(a), dtype=dtype, device=device)


def dense_net_from_numpy(trainer: Trainer, device: torch.device, dtype: torch.dtype,
                         forward_demean: bool = False) -> DecorNet:
    """A :class:`DecorNet` holding a copy of ``trainer``'s current network
    (:meth:`DecorNet.from_network`) and rule state (means, feedback matrices, sign scales)."""
    config, rule = trainer.config, trainer.rule
    if config.algorithm in ("fa", "signfa") and not config.fa_through_decorrelation:
        raise NeurodecorrError("--fa-skip-decorrelation: not available on the torch engine")
    feedback = LAYER_FEEDBACK[config.algorithm]
    net = DecorNet.from_network(trainer.network, device, dtype,
                                decorrelation=config.decorrelation_config(),
                                forward_demean=forward_demean, feedback=feedback,
                                feedback_scale=config.feedback_scale)
    with torch.no_grad():
        for i, layer in enumerate(net.layers):
            if trainer.decor_means[i] is not None:
                layer.estimate_mean = _tensor(trainer.decor_means[i], device, dtype)
            if feedback == "fa":
                layer.B = _tensor(rule.feedback[i], device, dtype)
            if feedback == "signfa":
                layer.sign_scale.fill_(float(rule.scales[i]))
    if config.algorithm == "dfa":
        net.direct = DirectFeedback([_tensor(B, device, dtype) for B in rule.feedback[:-1]])
    return net


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
