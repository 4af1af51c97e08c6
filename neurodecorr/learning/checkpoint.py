"""Checkpoints: the trained :class:`~neurodecorr.core.network.Network` plus the training state.

One ``.npz`` written all-or-nothing by :meth:`Network.save`, with these members:

* the network's own arrays and ``header`` (readable by :meth:`Network.load` alone);
* ``checkpoint``: the typed :class:`CheckpointHeader` — format version, data set, architecture
  and training configuration — as JSON; the one place a reader (``export-lava``, ``--resume``)
  learns what the network was trained on;
* ``train_state``: JSON with the epoch, Adam's step count, the training RNG's state and the
  history; and, as arrays, Adam's moments, the decorrelators' running means and the rule's
  fixed matrices.

Every field is checked when read (types, ranges, shapes against a freshly built trainer), so a
damaged or foreign file is one line, never a traceback and never a run that trains and then
fails. Nothing is pickled. Checkpoints of format 1 (before the header) are still read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from neurodecorr.core.forward import Backend
from neurodecorr.core.network import Network
from neurodecorr.data.base import LOADERS, Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import NpzArchive
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.trainer import Trainer

CHECKPOINT_FORMAT_VERSION = 2
#: the members of the training state held as arrays (the rest is the JSON ``train_state``)
STATE_ARRAY_PREFIXES = ("adam_m", "adam_v", "decor_mean", "rule_")


@dataclass(frozen=True)
class CheckpointHeader:
    """What a checkpoint holds, validated when read.

    Attributes
    ----------
    format_version : int
        :data:`CHECKPOINT_FORMAT_VERSION` when written.
    dataset : str
        The data set the network was trained on (a name in :data:`neurodecorr.data.LOADERS`).
    sizes : tuple of int
        Widths of the input, hidden and output layers.
    activations : tuple of str
        Activation of every layer.
    decorrelated : tuple of bool
        Whether each layer's input is decorrelated.
    train_config : TrainConfig
        The full training configuration.
    """

    format_version: int
    dataset: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    decorrelated: tuple[bool, ...]
    train_config: TrainConfig

    @classmethod
    def describe(cls, network: Network, config: TrainConfig) -> CheckpointHeader:
        return cls(CHECKPOINT_FORMAT_VERSION, config.dataset, tuple(network.sizes),
                   tuple(layer.activation for layer in network.layers),
                   tuple(layer.decorrelation is not None for layer in network.layers), config)

    def to_dict(self) -> dict:
        return {"kind": "neurodecorr.checkpoint", "format_version": self.format_version,
                "dataset": self.dataset,
                "architecture": {"sizes": list(self.sizes), "activations": list(self.activations),
                                 "decorrelated": list(self.decorrelated)},
                "train_config": self.train_config.to_dict()}

    @classmethod
    def from_dict(cls, d: object, source: str) -> CheckpointHeader:
        """Validate a header read from a file; every problem is one line naming ``source``."""
        if not isinstance(d, dict) or d.get("kind") != "neurodecorr.checkpoint":
            raise NeurodecorrError(f"{source}: not a neurodecorr checkpoint header")
        if d.get("format_version") != CHECKPOINT_FORMAT_VERSION:
            raise NeurodecorrError(f"{source}: checkpoint format_version "
                                   f"{d.get('format_version')!r} is not supported (expected "
                                   f"{CHECKPOINT_FORMAT_VERSION})")
        arch = d.get("architecture")
        if not (isinstance(arch, dict) and _ints(arch.get("sizes"))
                and _list_of(arch.get("activations"), str)
                and _list_of(arch.get("decorrelated"), bool)
                and len(arch["activations"]) == len(arch["decorrelated"])
                == len(arch["sizes"]) - 1):
            raise NeurodecorrError(f"{source}: checkpoint header field 'architecture' must hold "
                                   f"sizes, activations and decorrelated, one per layer")
        config = _config(d.get("train_config"), source)
        if d.get("dataset") != config.dataset:
            raise NeurodecorrError(f"{source}: checkpoint header field 'dataset' "
                                   f"({d.get('dataset')!r}) differs from its train_config "
                                   f"({config.dataset!r})")
        return cls(CHECKPOINT_FORMAT_VERSION, config.dataset, tuple(arch["sizes"]),
                   tuple(arch["activations"]), tuple(arch["decorrelated"]), config)

    def check_network(self, network: Network, source: str) -> None:
        """Refuse a header that does not describe ``network``."""
        if CheckpointHeader.describe(network, self.train_config) != self:
            raise NeurodecorrError(f"{source}: checkpoint header describes layers {self.sizes} "
                                   f"{self.activations} but the file holds {network.sizes}")


def _list_of(value: object, kind: type) -> bool:
    return isinstance(value, list) and all(type(v) is kind for v in value)


def _ints(value: object) -> bool:
    return _list_of(value, int) and len(value) >= 2 and all(v >= 1 for v in value)


def _config(value: object, source: str) -> TrainConfig:
    if not isinstance(value, dict):
        raise NeurodecorrError(f"{source}: checkpoint field 'train_config' must be a table")
    try:
        config = TrainConfig.from_dict(value)
    except (TypeError, ValueError, AttributeError) as exc:  # NeurodecorrError is a ValueError
        raise NeurodecorrError(f"{source}: checkpoint train_config: {exc}") from None
    if config.dataset not in LOADERS:
        raise NeurodecorrError(f"{source}: checkpoint train_config names unknown dataset "
                               f"{config.dataset!r}")
    return config


def _check_state(state: object, source: str) -> dict:
    """The JSON training state, every field checked for type and range."""
    if not isinstance(state, dict) or state.get("kind") != "neurodecorr.train_state":
        raise NeurodecorrError(f"{source}: not a neurodecorr training checkpoint")
    for name in ("epoch", "adam_step"):
        if type(state.get(name)) is not int or state[name] < 0:
            raise NeurodecorrError(f"{source}: train_state field '{name}' must be a "
                                   f"non-negative integer, got {state.get(name)!r}")
    history = state.get("history")
    if not (isinstance(history, list) and all(
            isinstance(row, dict) and all(isinstance(k, str) and _number(v)
                                          for k, v in row.items()) for row in history)):
        raise NeurodecorrError(f"{source}: train_state field 'history' must be a list of "
                               f"tables of numbers")
    try:
        np.random.Generator(np.random.PCG64()).bit_generator.state = state.get("rng_state")
    except (TypeError, ValueError, KeyError, OverflowError):
        raise NeurodecorrError(f"{source}: train_state field 'rng_state' is not the state of a "
                               f"PCG64 generator") from None
    return state


def _number(value: object) -> bool:
    return value is None or (type(value) in (int, float) and math.isfinite(value))


def save_checkpoint(trainer: Trainer, path: str | os.PathLike) -> None:
    """Write the trainer's network, header and state to ``path``, all-or-nothing."""
    extra = trainer.state_arrays()
    state = json.loads(str(extra.pop("train_state")))
    state["schema_version"] = CHECKPOINT_FORMAT_VERSION
    state.pop("config", None)  # the configuration lives in the typed header
    write_checkpoint(path, trainer.network,
                     CheckpointHeader.describe(trainer.network, trainer.config), state, extra)


def write_checkpoint(path: str | os.PathLike, network: Network, header: CheckpointHeader,
                     state: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write what :func:`read_checkpoint` returns back to ``path``, all-or-nothing."""
    network.save(path, extra={**arrays, "train_state": np.array(_dumps(state)),
                              "checkpoint": np.array(_dumps(header.to_dict()))})


def _dumps(obj: object) -> str:
    return json.dumps(obj)


def _open(path: str | os.PathLike) -> NpzArchive:
    return NpzArchive(path, "checkpoint", text_members=("header", "checkpoint", "train_state"))


def _header_and_state(archive: NpzArchive) -> tuple[CheckpointHeader, dict]:
    source = archive.source
    if "train_state" not in archive:
        raise NeurodecorrError(f"{source}: a network file but not a training checkpoint "
                               f"(no train_state)")
    state = _check_state(archive.json("train_state"), source)
    if "checkpoint" in archive:
        if state.get("schema_version") != CHECKPOINT_FORMAT_VERSION:
            raise NeurodecorrError(f"{source}: train_state schema_version "
                                   f"{state.get('schema_version')!r} is not supported")
        return CheckpointHeader.from_dict(archive.json("checkpoint"), source), state
    if state.get("schema_version") != 1:  # format 1: the configuration was in train_state
        raise NeurodecorrError(f"{source}: checkpoint schema_version "
                               f"{state.get('schema_version')!r} is not supported (expected "
                               f"{CHECKPOINT_FORMAT_VERSION})")
    network = Network.load(archive.path)
    return CheckpointHeader.describe(network, _config(state.get("config"), source)), state


def read_checkpoint_header(path: str | os.PathLike) -> CheckpointHeader:
    """The validated header of a checkpoint (reading nothing else of the file)."""
    with _open(path) as archive:
        return _header_and_state(archive)[0]


def load_trained_network(path: str | os.PathLike) -> tuple[Network, str | None]:
    """The network in a file ``train`` wrote and the data set it was trained on.

    For a checkpoint, the data set is its header's, and the header's architecture is checked
    against the arrays (the check ``train --resume`` makes), so ``export-lava`` and ``evaluate``
    never run a file whose header contradicts it. For a network saved by
    ``train --save-network`` it is the one its metadata records; ``None`` for networks built in
    code and export folders.
    """
    network = Network.load(path)
    with _open(path) as archive:
        if "train_state" in archive:
            header = _header_and_state(archive)[0]
            header.check_network(network, archive.source)
            return network, header.dataset
    recorded = network.metadata.get("dataset")
    return network, recorded if isinstance(recorded, str) else None


def read_checkpoint(path: str | os.PathLike
                    ) -> tuple[Network, CheckpointHeader, dict, dict[str, np.ndarray]]:
    """The network, header, JSON training state and state arrays of a checkpoint."""
    with _open(path) as archive:
        header, state = _header_and_state(archive)
        network = Network.load(path)
        header.check_network(network, archive.source)
        arrays = {name: archive.array(name, kinds="f") for name in archive.names
                  if name.startswith(STATE_ARRAY_PREFIXES)}
    return network, header, state, arrays


def resume_trainer(path: str | os.PathLike, config: TrainConfig, dataset: Dataset,
                   backend: Backend | None = None) -> Trainer:
    """A trainer in exactly the state saved at ``path``, to continue until ``config.epochs``.

    The checkpoint's configuration must equal ``config`` in every field except ``epochs``;
    otherwise the continued run would not be the run that was started. Every saved array must
    have the shape the trainer holds; nothing is changed before all of them are checked.
    """
    network, header, state, arrays = read_checkpoint(path)
    saved, now = header.train_config.to_dict(), config.to_dict()
    differ = [k for k, v in now.items() if k != "epochs" and saved[k] != v]
    if differ:
        details = ", ".join(f"{k} (checkpoint {saved[k]!r}, now {now[k]!r})" for k in differ)
        raise NeurodecorrError(f"{path}: checkpoint was trained with different settings: "
                               f"{details}")
    trainer = Trainer(config, dataset, backend)
    if network.sizes != trainer.network.sizes:
        raise NeurodecorrError(f"{path}: network sizes {network.sizes} do not match the data "
                               f"and --hidden ({trainer.network.sizes})")
    expected = {k: v for k, v in trainer.state_arrays().items() if k != "train_state"}
    for name, want in expected.items():
        got = arrays.get(name)
        if got is None or got.shape != np.shape(want):
            raise NeurodecorrError(f"{path}: incomplete or damaged checkpoint (state array "
                                   f"'{name}' " + ("missing" if got is None else
                                                   f"has shape {got.shape}, expected "
                                                   f"{np.shape(want)}") + ")")
    for i, (saved_layer, layer) in enumerate(zip(network.layers, trainer.network.layers,
                                                 strict=True)):
        layer.weight[...] = saved_layer.weight
        layer.bias[...] = saved_layer.bias
        if layer.decorrelation is not None:
            layer.decorrelation = np.array(saved_layer.decorrelation, dtype=np.float64)
        if trainer.decor_means[i] is not None:
            trainer.decor_means[i] = np.array(arrays[f"decor_mean{i}"], dtype=np.float64)
    for i in range(len(trainer.adam.m)):
        trainer.adam.m[i][...] = arrays[f"adam_m{i}"]
        trainer.adam.v[i][...] = arrays[f"adam_v{i}"]
    trainer.rule.load_state_arrays({k[len("rule_"):]: v for k, v in arrays.items()
                                    if k.startswith("rule_")})
    trainer.adam.step_count = state["adam_step"]
    trainer.rng.bit_generator.state = state["rng_state"]
    trainer.epoch = state["epoch"]
    trainer.history = list(state["history"])
    return trainer
