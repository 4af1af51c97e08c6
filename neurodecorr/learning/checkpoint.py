"""Checkpoints: the trained :class:`~neurodecorr.core.network.Network` plus the training state.

One ``.npz`` written atomically by :meth:`Network.save`: the network's own arrays and header
(readable by :meth:`Network.load` alone) and, as extra arrays, Adam's moments, the
decorrelators' running means, the rule's fixed matrices and a JSON ``train_state`` with the
schema version, the configuration, the epoch, Adam's step count, the training RNG's state and
the history. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np

from neurodecorr.core.forward import Backend
from neurodecorr.core.network import Network
from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.trainer import Trainer

CHECKPOINT_SCHEMA_VERSION = 1


def save_checkpoint(trainer: Trainer, path: str | os.PathLike) -> None:
    """Write the trainer's network and state to ``path`` atomically."""
    network = replace(trainer.network, metadata={"train_config": trainer.config.to_dict()})
    extra = trainer.state_arrays()
    state = json.loads(str(extra["train_state"]))
    state["schema_version"] = CHECKPOINT_SCHEMA_VERSION
    extra["train_state"] = np.array(json.dumps(state))
    network.save(path, extra=extra)


def read_checkpoint(path: str | os.PathLike) -> tuple[Network, dict, dict[str, np.ndarray]]:
    """The network, the JSON training state and all arrays of a checkpoint."""
    network = Network.load(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if "train_state" not in arrays:
        raise NeurodecorrError(f"{path}: a network file but not a training checkpoint "
                               f"(no train_state)")
    try:
        state = json.loads(str(arrays["train_state"]))
    except json.JSONDecodeError:
        raise NeurodecorrError(f"{path}: train_state is not valid JSON") from None
    if state.get("kind") != "neurodecorr.train_state":
        raise NeurodecorrError(f"{path}: not a neurodecorr training checkpoint")
    if state.get("schema_version") != CHECKPOINT_SCHEMA_VERSION:
        raise NeurodecorrError(f"{path}: checkpoint schema_version {state.get('schema_version')} "
                               f"is not supported (expected {CHECKPOINT_SCHEMA_VERSION})")
    return network, state, arrays


def resume_trainer(path: str | os.PathLike, config: TrainConfig, dataset: Dataset,
                   backend: Backend | None = None) -> Trainer:
    """A trainer in exactly the state saved at ``path``, to continue until ``config.epochs``.

    The checkpoint's configuration must equal ``config`` in every field except ``epochs``;
    otherwise the continued run would not be the run that was started.
    """
    network, state, arrays = read_checkpoint(path)
    saved = TrainConfig.from_dict(state["config"])
    differ = [k for k, v in config.to_dict().items() if k != "epochs" and saved.to_dict()[k] != v]
    if differ:
        details = ", ".join(f"{k} (checkpoint {saved.to_dict()[k]!r}, now {config.to_dict()[k]!r})"
                            for k in differ)
        raise NeurodecorrError(f"{path}: checkpoint was trained with different settings: "
                               f"{details}")
    trainer = Trainer(config, dataset, backend)
    if network.sizes != trainer.network.sizes:
        raise NeurodecorrError(f"{path}: network sizes {network.sizes} do not match the data "
                               f"and --hidden ({trainer.network.sizes})")
    try:
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
        trainer.adam.step_count = int(state["adam_step"])
        trainer.rng.bit_generator.state = state["rng_state"]
        trainer.epoch = int(state["epoch"])
        trainer.history = list(state["history"])
    except (KeyError, ValueError, TypeError) as exc:
        raise NeurodecorrError(f"{path}: incomplete or damaged checkpoint ({exc})") from None
    return trainer
