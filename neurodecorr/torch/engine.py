"""The torch training engine: the numpy trainer's loop on the CPU or a CUDA GPU, in float32 or
float64, for dense and convolutional networks and all six rules.

Per batch, exactly as :class:`neurodecorr.learning.trainer.Trainer`: the rule's (estimated)
gradients from a clean pass (plus a noisy one for NP/ANP); Adam (``torch.optim.Adam``) on the
forward weights and biases; then one step of every decorrelator on the inputs of the clean
pass. Initial weights, feedback matrices, the data order and the perturbation noise come from
the numpy trainer built with the same configuration (:mod:`neurodecorr.torch.adapter`), so in
float64 the two engines compute the same numbers (checked in the tests to 1e-6 after several
steps). Convolutional layers, which the numpy engine does not have, draw their weights from a
torch generator seeded with the run's seed.

Deterministic for a seed: on the CPU always; on CUDA cuDNN is put in deterministic mode.

A dense run is the numpy trainer's run in torch, and it is saved as one: :attr:`network` and
:meth:`state_arrays` write the torch layers, Adam's moments and the running means back into
the numpy trainer the run started from, so ``--save-network``, ``--checkpoint`` and ``--resume``
read and write the numpy engine's files (a checkpoint of either engine resumes on either).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from neurodecorr.core.network import Network
from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.trainer import EpochCallbacks, Trainer
from neurodecorr.reference.device import describe_device, resolve_device, resolve_dtype
from neurodecorr.torch.adapter import LAYER_FEEDBACK, dense_net_from_numpy
from neurodecorr.torch.diagnostics import Diagnostics
from neurodecorr.torch.feedback import DirectFeedback, kaiming_uniform_feedback
from neurodecorr.torch.layers import DecorConv2d, DecorLinear
from neurodecorr.torch.network import DecorNet
from neurodecorr.torch.perturbation import perturbation_gradients

#: flat input length -> image shape (C, H, W) of the data sets convolutions can read
IMAGE_SHAPES = {3 * 32 * 32: (3, 32, 32), 28 * 28: (1, 28, 28), 8 * 8: (1, 8, 8)}
#: rows of the fixed batch the diagnostics are measured on
DIAGNOSTIC_ROWS = 1024


@dataclass(frozen=True)
class TorchOptions:
    """Settings only the torch engine has (the rest is the run's
    :class:`~neurodecorr.learning.config.TrainConfig`, shared with the numpy engine).

    Attributes
    ----------
    device : str
        ``auto`` (CUDA when present), ``cuda`` or ``cpu``.
    dtype : str
        ``float32`` (default) or ``float64``.
    conv : tuple of int
        Output channels of 3×3, stride-2, padding-1 convolutional layers put before the dense
        hidden layers (image data only); empty for a dense network.
    forward_demean : bool
        Subtract a running per-feature mean before every decorrelator in the forward pass.
    diagnostics : bool
        Measure :class:`~neurodecorr.torch.diagnostics.Diagnostics` after every epoch.
    """

    device: str = "auto"
    dtype: str = "float32"
    conv: tuple[int, ...] = field(default_factory=tuple)
    forward_demean: bool = False
    diagnostics: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["conv"] = list(self.conv)
        return d


def _conv_net(config: TrainConfig, dataset: Dataset, options: TorchOptions,
              device: torch.device, dtype: torch.dtype) -> DecorNet:
    """Convolutions ``options.conv`` then dense ``config.hidden``, weights from the seed."""
    shape = IMAGE_SHAPES.get(dataset.n_features)
    if shape is None:
        raise NeurodecorrError(f"--conv: needs image data (CIFAR, 28×28 or 8×8), but "
                               f"{dataset.name} has {dataset.n_features} features per sample")
    gen = torch.Generator().manual_seed(config.seed)
    feedback = LAYER_FEEDBACK[config.algorithm]
    common = {"decorrelation": config.decorrelation_config(),
              "forward_demean": options.forward_demean, "feedback": feedback,
              "feedback_scale": config.feedback_scale, "auto_update": False, "generator": gen,
              "dtype": dtype}
    layers: list[DecorConv2d | DecorLinear] = []
    channels, side = shape[0], shape[1:]
    for out in options.conv:
        layers.append(DecorConv2d(channels, out, 3, stride=2, padding=1, **common))
        channels, side = out, tuple((s - 1) // 2 + 1 for s in side)
    widths = [channels * side[0] * side[1], *config.hidden, dataset.n_classes]
    layers += [DecorLinear(a, b, **common) for a, b in zip(widths[:-1], widths[1:], strict=True)]
    direct = None
    if config.algorithm == "dfa":
        net = DecorNet(layers, config.negative_slope, shape)
        sizes = _hidden_sizes(net, shape, dtype)
        direct = DirectFeedback([kaiming_uniform_feedback((dataset.n_classes, n),
                                                          config.feedback_scale, gen,
                                                          dtype=dtype).to(device)
                                 for n in sizes])
    return DecorNet(layers, config.negative_slope, shape, direct).to(device)


def _hidden_sizes(net: DecorNet, shape: tuple[int, ...], dtype: torch.dtype) -> list[int]:
    """Elements per sample of every hidden output (for DFA's feedback shapes)."""
    sizes = []
    for layer in net.layers:
        layer.record = True
    with torch.no_grad():
        net(torch.zeros((1, *shape), dtype=dtype))
    for layer in net.layers[:-1]:
        sizes.append(layer.last_z[0].numel())
        layer.record = False
    net.layers[-1].record = False
    return sizes


class TorchTrainer:
    """Train one network on one data set with one rule, in torch (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
    options : TorchOptions
    start : Trainer, optional
        The numpy trainer to start from (e.g. one resumed from a checkpoint); a fresh one by
        default. Dense networks only.
    """

    def __init__(self, config: TrainConfig, dataset: Dataset,
                 options: TorchOptions | None = None, start: Trainer | None = None) -> None:
        self.config, self.dataset = config, dataset
        self.options = options or TorchOptions()
        if self.options.device == "cuda" and not torch.cuda.is_available():
            raise NeurodecorrError("--torch-device: cuda asked for, but no CUDA GPU is available")
        self.device = resolve_device(self.options.device)
        self.dtype = resolve_dtype(self.options.dtype)
        if self.device.type == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        if start is not None and self.options.conv:
            raise NeurodecorrError("--conv: a convolutional network cannot start from a "
                                   "checkpoint")
        reference = start or Trainer(config, dataset)
        #: the numpy trainer this run started from; holds the results once written back
        self.numpy_trainer = reference
        self.rng = reference.rng  # data order and perturbation noise, as the numpy engine
        self.net = (_conv_net(config, dataset, self.options, self.device, self.dtype)
                    if self.options.conv
                    else dense_net_from_numpy(reference, self.device, self.dtype,
                                              self.options.forward_demean))
        self.layers = list(self.net.layers)
        for layer in self.layers:
            layer.record = True
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        if reference.adam.step_count:
            self._load_adam(reference.adam)
        self.x_train = self._tensor(dataset.x_train)
        self.y_train = torch.as_tensor(dataset.y_train, dtype=torch.long, device=self.device)
        self.epoch = reference.epoch
        self.history: list[dict] = list(reference.history)
        #: training seconds of every epoch and in all (not in the history: not a result)
        self.epoch_wall_s: list[float] = []
        #: CPU seconds of this process in the same passes (a CPU run's cost under load; on a
        #: GPU it counts only the host's share)
        self.epoch_cpu_s: list[float] = []
        self.wall_s = 0.0
        self.diagnostics = None
        if self.options.diagnostics:
            rows = min(DIAGNOSTIC_ROWS, len(dataset.x_train))
            self.diagnostics = Diagnostics(self.net, self.x_train[:rows], self.y_train[:rows],
                                           config.algorithm, config.sigma, config.seed)

    @property
    def sizes(self) -> list[int]:
        """Inputs per sample, then the outputs of every layer (elements per sample)."""
        first = self.layers[0]
        n_in = (first.in_features if isinstance(first, DecorLinear)
                else int(np.prod(self.net.input_shape)))
        return [n_in, *(layer.out_features if isinstance(layer, DecorLinear)
                        else layer.out_channels for layer in self.layers)]

    def describe_device(self) -> str:
        return describe_device(self.device)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def _noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self._tensor(self.rng.standard_normal(shape))

    def _batch(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """One batch: gradients of the rule, Adam, then the decorrelators."""
        cfg = self.config
        if cfg.algorithm in ("np", "anp"):
            perturbation_gradients(self.layers, lambda: self.net(X),
                                   lambda logits: F.cross_entropy(logits, y, reduction="none"),
                                   cfg.sigma, cfg.algorithm, noise=self._noise)
        else:
            self.optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(self.net(X), y).backward()
        self.optimizer.step()
        for layer in self.layers:
            layer.update_from_record(in_place=True)  # the backward pass is done

    @torch.no_grad()
    def evaluate(self, X: np.ndarray | torch.Tensor, y: np.ndarray, chunk: int = 4096
                 ) -> tuple[float, float]:
        """Accuracy and mean cross-entropy of clean passes (evaluation mode)."""
        self.net.eval()
        X = X if isinstance(X, torch.Tensor) else self._tensor(X)
        yt = torch.as_tensor(y, dtype=torch.long, device=self.device)
        correct, loss = 0.0, 0.0
        for i in range(0, len(X), chunk):
            logits = self.net(X[i:i + chunk])
            correct += float((logits.argmax(1) == yt[i:i + chunk]).sum())
            loss += float(F.cross_entropy(logits.double(), yt[i:i + chunk], reduction="sum"))
        self.net.train()
        return correct / len(X), loss / len(X)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def train_epoch(self, callbacks: EpochCallbacks | None = None) -> dict:
        """One pass over the shuffled training set; returns and records the history row."""
        cb = callbacks or EpochCallbacks()
        self._sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for layer in self.layers:
            layer.eta_shrunk.zero_()
        order = torch.as_tensor(self.rng.permutation(len(self.x_train)), device=self.device)
        bs = self.config.batch_size
        n_batches = -(-len(order) // bs)
        self.net.train()
        for k in range(n_batches):
            idx = order[k * bs:(k + 1) * bs]
            self._batch(self.x_train[idx], self.y_train[idx])
            if cb.on_batch is not None:
                cb.on_batch(k + 1, n_batches)
        self._sync()
        self.epoch_wall_s.append(time.perf_counter() - t0)
        self.epoch_cpu_s.append(time.process_time() - c0)
        self.wall_s += self.epoch_wall_s[-1]
        self.epoch += 1
        train_acc, train_loss = self.evaluate(self.x_train, self.dataset.y_train)
        test_acc, _ = self.evaluate(self.dataset.x_test, self.dataset.y_test)
        if not np.isfinite(train_loss):
            raise NeurodecorrError(f"training diverged in epoch {self.epoch} (non-finite loss); "
                                   f"reduce --lr or --decor-lr")
        row = {"epoch": self.epoch, "train_acc": train_acc, "test_acc": test_acc,
               "train_loss": train_loss,
               "decor_eta_shrunk": int(sum(int(layer.eta_shrunk) for layer in self.layers))}
        if self.diagnostics is not None:
            row["diagnostics"] = self.diagnostics.measure()
        self.history.append(row)
        if cb.on_epoch is not None:
            cb.on_epoch(row)
        return row

    #: the numpy trainer's loop over epochs (it only calls ``train_epoch``)
    fit = Trainer.fit

    def _params(self) -> list[torch.nn.Parameter]:
        """``[W_0, b_0, W_1, b_1, ...]``, the order of the numpy trainer's Adam."""
        return [p for layer in self.layers for p in (layer.weight, layer.bias)]

    def _load_adam(self, adam) -> None:
        for p, m, v in zip(self._params(), adam.m, adam.v, strict=True):
            self.optimizer.state[p] = {
                "step": torch.tensor(float(adam.step_count)),
                "exp_avg": self._tensor(m), "exp_avg_sq": self._tensor(v)}

    @property
    def network(self) -> Network:
        """The trained network: the torch layers written into the numpy trainer's network."""
        return self.net.write_to(self.numpy_trainer.network)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The numpy trainer's state arrays (:func:`neurodecorr.learning.checkpoint.
        save_checkpoint`), with this run's network, Adam moments, means, epoch and history."""
        ref = self.numpy_trainer
        self.net.write_to(ref.network)
        for i, p in enumerate(self._params()):
            state = self.optimizer.state.get(p)
            if state:
                ref.adam.m[i][...] = state["exp_avg"].cpu().double().numpy()
                ref.adam.v[i][...] = state["exp_avg_sq"].cpu().double().numpy()
                ref.adam.step_count = int(state["step"])
        for i, layer in enumerate(self.layers):
            if ref.decor_means[i] is not None:
                ref.decor_means[i] = layer.estimate_mean.cpu().double().numpy().copy()
        ref.epoch, ref.history = self.epoch, self.history
        return ref.state_arrays()

    def numpy_state(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray | None]]:
        """Weights, biases and decorrelating matrices as float64 numpy arrays."""
        def arr(t):
            return None if t is None else t.detach().to("cpu", torch.float64).numpy()
        return ([arr(la.weight) for la in self.layers], [arr(la.bias) for la in self.layers],
                [arr(la.M) for la in self.layers])
