"""Training with the chip in the loop: every forward pass and every update goes through the chip.

:class:`ChipTrainer` is the :class:`~neurodecorr.learning.trainer.Trainer` whose backend is a
:class:`~neurodecorr.circuits.chip.Chip` programmed from the trainer's network and its
:class:`~neurodecorr.core.network.Hardware`: ``x̄ = M x`` is the settled state of the layer's
lateral circuit, ``W x̄ + b`` a read of its forward crossbar. Its updates are written into the
devices:

* forward weights: the rule's update (BP, FA, sign-FA, DFA, NP, ANP) is applied as SGD,
  ``[W | b] ← [W | b] − lr [∂W | ∂b]`` with the chip's own step ``ChipOptions.lr``
  (``--chip-lr``), through each array's update algorithm (:mod:`neurodecorr.circuits.updates`:
  plain pulse trains, mixed precision, or a transfer algorithm; ``ChipOptions.update``).
  Adam's per-element moments cannot be written as outer products, so the chip does not use
  Adam, and ``--lr`` (Adam's rate) does not apply;
* lateral matrices: the local first-order Sherman–Morrison rule through the lateral array's
  update algorithm, with the global gain in a digital register (:meth:`LateralArray.learn`);
  rule ``ahmad`` only. A matrix that loses stability, or a settle that fails, gets the
  circuit's ``on_unstable`` response (stop with one line naming layer, epoch and eigenvalue;
  re-program; clamp).

After the writes of every batch the chip reads its arrays back into the network
(:meth:`Chip.read_back`), so the network is always what the chip holds. What stays digital: the
rule's error signals and its backward pass (it uses the network, i.e. the noiseless effective
``W`` and ``M`` of the arrays), the SVD that factorises the batch update, the gain register and
its computation, the loss.

:class:`SGDTrainer` is the software network trained the same way (SGD on the forward weights,
the linear-form decorrelator of the learning module): the reference a chip run is compared with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from neurodecorr.circuits.chip import Chip
from neurodecorr.circuits.costs import difference, per_sample
from neurodecorr.circuits.lateral import LateralUnstable
from neurodecorr.core.forward import Trace
from neurodecorr.core.network import Hardware
from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.trainer import Trainer


@dataclass(frozen=True)
class ChipOptions:
    """How the chip is built and clocked.

    Attributes
    ----------
    circuit : str
        Circuit name or path, or comma-separated, one per layer.
    device : str, optional
        Device preset for every array (lateral and forward), overriding the circuits'; one for
        all layers or comma-separated per layer.
    batch_interval_s : float
        Physical time between two training batches (data transfer, digital periphery): the
        chip's clock advances by it after each batch's writes, so drift acts between batches.
    seed : int
        Seed of every physical draw (mismatch, programming, reads, writes, circuit noise).
    lr : float
        The SGD step of the forward arrays' updates (``train --chip-lr``): the chip's own
        option, never the software optimiser's ``--lr`` (Adam's rate).
    update : str, optional
        Update algorithm of every array (:mod:`neurodecorr.circuits.updates`), overriding the
        circuits' ``update`` keys (``train --update``).
    """

    circuit: str = "ideal"
    device: str | None = None
    batch_interval_s: float = 1e-3
    seed: int = 0
    lr: float = 0.2
    update: str | None = None

    def __post_init__(self) -> None:
        from neurodecorr.circuits.updates import UPDATES

        if not (np.isfinite(self.batch_interval_s) and self.batch_interval_s >= 0):
            raise NeurodecorrError(f"batch interval: must be >= 0 s, got {self.batch_interval_s}")
        if not (isinstance(self.lr, int | float) and np.isfinite(self.lr) and self.lr > 0):
            raise NeurodecorrError(f"--chip-lr: must be a positive number, got {self.lr!r}")
        if self.update is not None and self.update not in UPDATES:
            raise NeurodecorrError(f"--update: must be one of {', '.join(UPDATES)}; got "
                                   f"{self.update!r}")

    @property
    def hardware(self) -> Hardware:
        """The circuits and devices the network is given (``device`` on every array); a
        file named by a relative path is recorded by its absolute path, so that the saved
        network deploys (``evaluate``) from any folder."""
        return Hardware.on(_absolute(self.circuit), _absolute(self.device))

    def check(self, config: TrainConfig) -> None:
        """Refuse, before any work, a configuration the chip cannot train and any circuit or
        device that does not load."""
        from neurodecorr.circuits.description import load_circuit
        from neurodecorr.devices import load_device

        _check_config(config)
        for circuit, lateral, forward in self.hardware.per_layer(len(config.hidden) + 1):
            load_circuit(circuit)
            for device in {lateral, forward} - {None}:
                load_device(device)

    def to_dict(self) -> dict:
        return asdict(self)


def _check_config(config: TrainConfig) -> None:
    if config.decorrelation not in ("none", "ahmad"):
        raise NeurodecorrError(f"--decorrelation {config.decorrelation}: the chip learns its "
                               f"lateral matrices with the local rule of 'ahmad' only")
    if config.decor_centre:
        raise NeurodecorrError("--decor-centre: centring is not modelled on the chip")


class ChipTrainer(Trainer):
    """A :class:`Trainer` whose network is a simulated chip (see the module docstring).

    The software initialisation (weights, feedback matrices, data order) is the same as the
    software trainer's for the same seed; the chip is programmed with it, and the network then
    holds what the devices hold after programming.
    """

    def __init__(self, config: TrainConfig, dataset: Dataset, options: ChipOptions) -> None:
        _check_config(config)
        super().__init__(config, dataset)
        self.options = options
        self.network.hardware = options.hardware
        self.chip = Chip(self.network, np.random.default_rng([options.seed, 0xC41]),
                         update=options.update)
        self.backend = self.chip
        self.chip.read_back(self.network)
        self.inference = {"samples": 0.0}
        self.trained_samples = 0

    def apply_updates(self, grads: list[np.ndarray], trace: Trace) -> None:
        chip = self.chip
        self.trained_samples += len(trace.x[0])
        for i in range(chip.n_layers):
            chip.write_forward(i, grads[2 * i], grads[2 * i + 1], self.options.lr)
        for i, layer in enumerate(self.network.layers):
            if layer.decorrelation is not None:
                chip.learn_lateral(i, trace.x[i], trace.xbar[i], self.config.decor_lr,
                                   self.config.decor_batch_fraction)
        chip.clock_s += self.options.batch_interval_s
        chip.read_back(self.network)

    def train_epoch(self, callbacks=None) -> dict:
        """One epoch (:meth:`Trainer.train_epoch`); a lateral circuit's stop names the epoch,
        whether a write (the eigenvalue check) or a settle (a forward pass) caused it."""
        epoch = self.epoch + 1
        try:
            return super().train_epoch(callbacks)
        except LateralUnstable as exc:
            raise exc.located(epoch=epoch) from None

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        before = self.chip.totals()
        out = super().evaluate(X, y)
        spent = difference(self.chip.totals(), before)
        for k, v in spent.items():
            self.inference[k] = self.inference.get(k, 0.0) + v
        return out

    def costs(self) -> dict:
        """Events and energy per training sample and per inference sample (JSON-ready).

        A training sample's cost includes every pass its rule makes through the chip (two for
        node perturbation) and its writes."""
        total = self.chip.totals()
        training = difference(total, self.inference)
        return {
            "training_samples": self.trained_samples,
            "training_passes": int(training["samples"]),
            "per_training_sample": per_sample(training, self.trained_samples),
            "inference_samples": int(self.inference["samples"]),
            "per_inference_sample": per_sample(self.inference, self.inference["samples"]),
            "totals": total,
            "clock_s": self.chip.clock_s,
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        raise NeurodecorrError("checkpoints of a chip run are not supported: the device state "
                               "(conductances, drift clocks) is not saved")


class SGDTrainer(Trainer):
    """The software network trained with plain SGD (the chip's optimiser) instead of Adam."""

    def apply_updates(self, grads: list[np.ndarray], trace: Trace) -> None:
        for p, g in zip(self.parameters, grads, strict=True):
            p -= self.config.lr * g
        self._update_decorrelators(trace.x)


def _absolute(names: str | None) -> str | None:
    """``names`` (comma-separated) with each existing file's path made absolute; preset
    names stay as they are."""
    if names is None:
        return None
    return ",".join(str(Path(n).resolve()) if Path(n).is_file() and not Path(n).is_absolute()
                    else n for n in names.split(","))
