"""Training dense networks with backprop, feedback alignment or node perturbation, with and
without decorrelation of every layer's input (Ahmad 2024, arXiv 2407.10780)."""

from neurodecorr.learning.adam import Adam
from neurodecorr.learning.checkpoint import read_checkpoint, resume_trainer, save_checkpoint
from neurodecorr.learning.chip_engine import ChipEngine, ChipOptions, ChipTrainer, SGDTrainer
from neurodecorr.learning.config import ALGORITHMS, DECORRELATIONS, TrainConfig, parse_hidden
from neurodecorr.learning.loss import accuracy, cross_entropy, cross_entropy_grad
from neurodecorr.learning.model import MLP, ForwardEngine, Trace
from neurodecorr.learning.rules import make_rule
from neurodecorr.learning.trainer import EpochCallbacks, Trainer

__all__ = [
    "ALGORITHMS", "DECORRELATIONS", "MLP", "Adam", "ChipEngine", "ChipOptions", "ChipTrainer",
    "EpochCallbacks", "ForwardEngine", "SGDTrainer",
    "TrainConfig", "Trace", "Trainer", "accuracy", "cross_entropy", "cross_entropy_grad",
    "make_rule", "parse_hidden", "read_checkpoint", "resume_trainer", "save_checkpoint",
]
