"""Training dense networks with backprop, feedback alignment or node perturbation, with and
without decorrelation of every layer's input (Ahmad 2024, arXiv 2407.10780).

A :class:`Trainer` trains a :class:`~neurodecorr.core.network.Network` on a backend (exact numpy
by default, a simulated chip with :class:`~neurodecorr.learning.chip_trainer.ChipTrainer`);
:func:`run_training` is one whole run as the ``train`` command asks for it."""

from neurodecorr.learning.adam import Adam
from neurodecorr.learning.checkpoint import read_checkpoint, resume_trainer, save_checkpoint
from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer, SGDTrainer
from neurodecorr.learning.config import ALGORITHMS, DECORRELATIONS, TrainConfig, parse_hidden
from neurodecorr.learning.loss import accuracy, cross_entropy, cross_entropy_grad
from neurodecorr.learning.rules import make_rule
from neurodecorr.learning.run import TrainRun, run_training
from neurodecorr.learning.trainer import EpochCallbacks, Trainer

__all__ = [
    "ALGORITHMS", "DECORRELATIONS", "Adam", "ChipOptions", "ChipTrainer", "EpochCallbacks",
    "SGDTrainer", "TrainConfig", "TrainRun", "Trainer", "accuracy", "cross_entropy",
    "cross_entropy_grad", "make_rule", "parse_hidden", "read_checkpoint", "resume_trainer",
    "run_training", "save_checkpoint",
]
