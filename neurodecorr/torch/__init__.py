"""Decorrelation and biologically plausible learning rules for your own torch models.

Imported only on request (``import neurodecorr.torch``); nothing else in neurodecorr needs
torch to be importable. See ``docs/torch.md``.

- :class:`DecorLinear`, :class:`DecorConv2d`: layers with a decorrelated input ``x̄ = M x``
  (rules ``ahmad``, ``copi``, ``dbp``), feedback ``bp``, ``fa`` or ``signfa``;
- :class:`DirectFeedback`: DFA taps for any stack;
- :func:`perturbation_gradients`: NP and ANP gradient estimates for the layers;
- :func:`decorrelation_step`: one fused, subsampled update of ``M``.
"""

from neurodecorr.torch.decorrelation import decorrelation_step, step_eta
from neurodecorr.torch.feedback import DirectFeedback, conv2d_feedback, linear_feedback
from neurodecorr.torch.layers import FEEDBACK, DecorConv2d, DecorLinear
from neurodecorr.torch.perturbation import (
    PERTURBATION_RULES,
    local_gradients,
    perturbation_gradients,
)

__all__ = [
    "FEEDBACK", "PERTURBATION_RULES", "DecorConv2d", "DecorLinear", "DirectFeedback",
    "conv2d_feedback", "decorrelation_step", "linear_feedback", "local_gradients",
    "perturbation_gradients", "step_eta",
]
