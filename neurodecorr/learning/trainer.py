"""The training loop: batches, rule, Adam, decorrelators, evaluation, exact resumption.

A :class:`Trainer` trains one :class:`~neurodecorr.core.network.Network` on one backend (the
exact :class:`~neurodecorr.core.forward.NumpyBackend` by default; a chip in
:mod:`neurodecorr.learning.chip_trainer`). The network holds every learned array (``W``, ``b``,
``M``); the trainer holds what only learning needs: Adam's moments, the decorrelators' running
means, the rule's fixed matrices and the random stream.

Per batch: the rule computes (estimated) gradients from a clean pass (plus a noisy one for
node perturbation); Adam updates every ``W_l`` and ``b_l``; then every decorrelator takes one
step ``M ← g(I − η G)M`` on the inputs ``x_l`` it saw in the clean pass (the order of the
decorrelation paper's code, CorrelationsRuinGD). After each epoch the whole train and test sets
are evaluated with clean passes.

Randomness: ``SeedSequence(seed)`` spawns one stream for the initial weights and feedback
matrices and one for training (shuffling and perturbation noise). The training stream's state
is saved with every checkpoint, so a resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from neurodecorr.core.forward import Backend, NumpyBackend, Trace, logits_in_chunks
from neurodecorr.core.linear import decorrelator_step, stable_eta
from neurodecorr.core.network import Network
from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.adam import Adam
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.loss import accuracy, cross_entropy
from neurodecorr.learning.rules import make_rule

#: one row per epoch; no wall time, so that the same seed gives the same bytes (timings go to the
#: terminal through :attr:`Trainer.wall_s`, see docs/reliability.md)
HISTORY_KEYS = ("epoch", "train_acc", "test_acc", "train_loss", "decor_eta_shrunk")


@dataclass
class EpochCallbacks:
    """Optional hooks for progress display.

    ``on_start(epochs_done, epochs_total)`` before training, ``on_batch(k, n_batches)`` after
    every batch, ``on_epoch(history_row)`` after every epoch."""

    on_batch: Callable[[int, int], None] | None = None
    on_epoch: Callable[[dict], None] | None = None
    on_start: Callable[[int, int], None] | None = None


#: rows per evaluation pass
EVAL_CHUNK = 4096


def folded_for_rows(network: Network, rows: int) -> Network:
    """The same function with ``W M`` as one matrix wherever that is cheaper for ``rows`` rows.

    ``z = W (M x)`` costs ``rows·d² + rows·d·n_out`` per pass, ``(W M) x`` costs
    ``n_out·d² + rows·d·n_out``: folding pays for a layer with fewer outputs than rows (the
    classifier; every layer when a whole data set is evaluated). Only for exact clean passes:
    a trace of the folded network has no ``x̄``.
    """
    layers = [replace(layer, weight=layer.weight @ layer.decorrelation, decorrelation=None)
              if layer.decorrelation is not None and layer.n_out < rows else layer
              for layer in network.layers]
    return Network(layers=layers, hardware=network.hardware, metadata=network.metadata)


class Trainer:
    """Train one network on one data set with one rule (see :class:`TrainConfig`).

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
    backend : Backend, optional
        What computes the forward passes (exact numpy by default).

    Attributes
    ----------
    network : Network
        The network being trained: ``[n_features, *hidden, n_classes]``, initialised by
        :meth:`Network.dense` from the seed's initialisation stream; its arrays are updated in
        place.
    """

    def __init__(self, config: TrainConfig, dataset: Dataset,
                 backend: Backend | None = None) -> None:
        self.config = config
        self.dataset = dataset
        init_seq, train_seq = np.random.SeedSequence(config.seed).spawn(2)
        init_rng = np.random.Generator(np.random.PCG64(init_seq))
        self.rng = np.random.Generator(np.random.PCG64(train_seq))
        sizes = [dataset.n_features, *config.hidden, dataset.n_classes]
        self.decorrelation = config.decorrelation_config()
        self.network = Network.dense(sizes, init_rng, decorrelated=self.decorrelation is not None,
                                     negative_slope=config.negative_slope)
        self.backend = backend or NumpyBackend()
        self.rule = make_rule(config, self.network, init_rng)
        self.adam = Adam(self.parameters, lr=config.lr)
        centre = self.decorrelation is not None and self.decorrelation.centre
        #: running means of the decorrelators' inputs (centring only)
        self.decor_means = [np.zeros(n) if centre else None for n in sizes[:-1]]
        self.epoch = 0
        self.history: list[dict] = []
        self.wall_s = 0.0  #: seconds spent training in this process (not saved: not a result)
        #: seconds of every epoch's training passes in this process (evaluation excluded)
        self.epoch_wall_s: list[float] = []
        #: CPU seconds of this process in the same passes: the cost of a single-threaded run on
        #: a machine shared with other work, where wall seconds grow with the load
        self.epoch_cpu_s: list[float] = []
        #: decorrelator steps of the current epoch whose η was shrunk (see ``stable_eta``)
        self.eta_shrunk = 0

    @property
    def sizes(self) -> list[int]:
        """Inputs, then the outputs of every layer."""
        return self.network.sizes

    @property
    def parameters(self) -> list[np.ndarray]:
        """``[W_0, b_0, W_1, b_1, ...]``: the network's arrays Adam updates in place."""
        return [p for layer in self.network.layers for p in (layer.weight, layer.bias)]

    def forward(self, X: np.ndarray) -> Trace:
        """A clean pass of the network on the backend."""
        return self.backend.forward(self.network, X)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Accuracy and mean cross-entropy of clean passes."""
        network = self.network
        if isinstance(self.backend, NumpyBackend):
            network = folded_for_rows(network, min(len(X), EVAL_CHUNK))
        logits = logits_in_chunks(self.backend, network, X, EVAL_CHUNK)
        return accuracy(logits, y), float(np.mean(cross_entropy(logits, y)))

    def _update_decorrelators(self, inputs: list[np.ndarray],
                              states: list[np.ndarray] | None = None) -> None:
        """One step of every ``M`` on its layer's inputs.

        ``states`` are the exact ``x̄ = M x`` of the same pass (the numpy backend's trace): the
        step then reuses them and writes ``M`` in place (nothing else holds it); without them
        (a chip's settled states are not ``M x``) every ``M`` is replaced by a new array.
        """
        for i, (layer, x) in enumerate(zip(self.network.layers, inputs, strict=True)):
            if layer.decorrelation is None:
                continue
            eta = stable_eta(self.decorrelation.eta, float(np.mean(np.sum(np.square(x), axis=1))))
            self.eta_shrunk += eta != self.decorrelation.eta
            layer.decorrelation, self.decor_means[i], _ = decorrelator_step(
                layer.decorrelation, x, self.decorrelation, self.decor_means[i], eta,
                states=None if states is None else states[i], in_place=states is not None)

    def apply_updates(self, grads: list[np.ndarray], trace: Trace) -> None:
        """One batch's updates: Adam on the forward parameters, then the decorrelators.

        The hook a hardware trainer overrides (:mod:`neurodecorr.learning.chip_trainer`)."""
        self.adam.step(grads)
        exact = isinstance(self.backend, NumpyBackend)
        self._update_decorrelators(trace.x, trace.xbar if exact else None)

    def train_batch(self, X: np.ndarray, y: np.ndarray) -> None:
        """One training step on the batch ``X``, ``y``: the rule's gradients, then
        :meth:`apply_updates`."""
        grads, trace = self.rule.gradients(self.network, self.backend, X, y, self.rng)
        if not all(np.all(np.isfinite(g)) for g in grads):
            raise NeurodecorrError(f"training diverged in epoch {self.epoch + 1} "
                                   f"(non-finite update); reduce --lr or --decor-lr")
        self.apply_updates(grads, trace)

    def train_epoch(self, callbacks: EpochCallbacks | None = None) -> dict:
        """One pass over the shuffled training set; returns and records the history row."""
        cb = callbacks or EpochCallbacks()
        t0, c0 = time.perf_counter(), time.process_time()
        self.eta_shrunk = 0
        X, y = self.dataset.x_train, self.dataset.y_train
        order = self.rng.permutation(len(X))
        bs = self.config.batch_size
        n_batches = -(-len(X) // bs)
        for k in range(n_batches):
            idx = order[k * bs:(k + 1) * bs]
            self.train_batch(X[idx], y[idx])
            if cb.on_batch is not None:
                cb.on_batch(k + 1, n_batches)
        self.epoch_wall_s.append(time.perf_counter() - t0)
        self.epoch_cpu_s.append(time.process_time() - c0)
        self.epoch += 1
        train_acc, train_loss = self.evaluate(X, y)
        test_acc, _ = self.evaluate(self.dataset.x_test, self.dataset.y_test)
        if not np.isfinite(train_loss):
            raise NeurodecorrError(f"training diverged in epoch {self.epoch} (non-finite loss); "
                                   f"reduce --lr or --decor-lr")
        row = {"epoch": self.epoch, "train_acc": train_acc, "test_acc": test_acc,
               "train_loss": train_loss, "decor_eta_shrunk": int(self.eta_shrunk)}
        self.wall_s += time.perf_counter() - t0
        self.history.append(row)
        if cb.on_epoch is not None:
            cb.on_epoch(row)
        return row

    def fit(self, callbacks: EpochCallbacks | None = None,
            after_epoch: Callable[[Trainer], None] | None = None) -> list[dict]:
        """Train until ``config.epochs`` epochs are done; ``after_epoch`` e.g. checkpoints."""
        while self.epoch < self.config.epochs:
            self.train_epoch(callbacks)
            if after_epoch is not None:
                after_epoch(self)
        return self.history

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything beyond the network needed to continue exactly: Adam, means, RNG, history."""
        state = {
            "kind": "neurodecorr.train_state",
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "adam_step": self.adam.step_count,
            "rng_state": self.rng.bit_generator.state,
            "history": self.history,
        }
        arrays: dict[str, np.ndarray] = {"train_state": np.array(json.dumps(state))}
        for i, (m, v) in enumerate(zip(self.adam.m, self.adam.v, strict=True)):
            arrays[f"adam_m{i}"] = m
            arrays[f"adam_v{i}"] = v
        for i, mean in enumerate(self.decor_means):
            if mean is not None:
                arrays[f"decor_mean{i}"] = mean
        for name, arr in self.rule.state_arrays().items():
            arrays[f"rule_{name}"] = arr
        return arrays
