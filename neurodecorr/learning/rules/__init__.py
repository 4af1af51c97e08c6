"""Learning rules: backprop, feedback alignment (FA, sign-FA, DFA), node perturbation (NP, ANP)."""

from __future__ import annotations

import numpy as np

from neurodecorr.core.network import Network
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.rules.backprop import Backprop
from neurodecorr.learning.rules.base import LearningRule, backpropagate, weight_gradients
from neurodecorr.learning.rules.feedback import (
    DirectFeedbackAlignment,
    FeedbackAlignment,
    SignFeedbackAlignment,
)
from neurodecorr.learning.rules.perturbation import ActivityNodePerturbation, NodePerturbation


def make_rule(config: TrainConfig, network: Network, rng: np.random.Generator) -> LearningRule:
    """The rule named by ``config.algorithm``; ``rng`` draws any fixed feedback matrices."""
    name = config.algorithm
    if name == "bp":
        return Backprop()
    if name == "fa":
        return FeedbackAlignment(network, rng, config.feedback_scale,
                                 config.fa_through_decorrelation)
    if name == "signfa":
        return SignFeedbackAlignment(network, config.feedback_scale,
                                     config.fa_through_decorrelation)
    if name == "dfa":
        return DirectFeedbackAlignment(network, rng, config.feedback_scale)
    if name == "np":
        return NodePerturbation(config.sigma)
    return ActivityNodePerturbation(config.sigma)


__all__ = [
    "ActivityNodePerturbation", "Backprop", "DirectFeedbackAlignment", "FeedbackAlignment",
    "LearningRule", "NodePerturbation", "SignFeedbackAlignment", "backpropagate", "make_rule",
    "weight_gradients",
]
