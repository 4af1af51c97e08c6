"""One training run as the ``train`` command asks for it: checks, data, trainer, outputs.

:class:`TrainRun` holds every choice of a run beyond the :class:`TrainConfig` (data folder,
checkpoint and resumption, chip, output files) and validates them on construction, before any
data is read or any epoch is trained. :func:`run_training` carries the run out. The checkpoint
and the JSON history are rewritten (atomically) after every epoch, so a crash or a kill loses at
most the epoch in progress; the learning curves are drawn at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from neurodecorr.data import NEEDS_DATA_DIR, load_dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs, input_file, json_bytes, npz_bytes, write_outputs
from neurodecorr.learning.checkpoint import resume_trainer, save_checkpoint
from neurodecorr.learning.config import TrainConfig
from neurodecorr.learning.trainer import EpochCallbacks, Trainer
from neurodecorr.provenance import with_versions

#: The circuit ``train --device NAME`` builds when no ``--circuit`` is given: the chip study's
#: best circuit for on-chip learning (per-node diagonal reference, mixed precision on every
#: array; docs/chip.md). ``--circuit ideal`` is the one that equals the software network.
DEFAULT_TRAIN_CIRCUIT = "node-reference"

if TYPE_CHECKING:
    from neurodecorr.learning.chip_trainer import ChipOptions


@dataclass(frozen=True)
class TrainRun:
    """A training run: its configuration and everything around it.

    Attributes
    ----------
    config : TrainConfig
    data_dir : str, optional
        Folder of the CIFAR batch files (``cifar10``, ``cifar100`` only).
    checkpoint : str, optional
        ``.npz`` written after every epoch (software runs only).
    resume : bool
        Continue from ``checkpoint``.
    chip : ChipOptions, optional
        Train on a simulated chip (:mod:`neurodecorr.learning.chip_trainer`).
    json_path, plot_path : str, optional
        History and configuration as JSON; learning curves as PNG.
    save_network : str, optional
        The trained network as ``.npz`` (a chip run: what its arrays hold at the end), for
        ``neurodecorr evaluate`` and ``export-lava``.
    """

    config: TrainConfig
    data_dir: str | None = None
    checkpoint: str | None = None
    resume: bool = False
    chip: ChipOptions | None = None
    json_path: str | None = None
    plot_path: str | None = None
    save_network: str | None = None

    def __post_init__(self) -> None:
        if self.resume and self.checkpoint is None:
            raise NeurodecorrError("--resume needs --checkpoint PATH")
        if self.resume:
            input_file(self.checkpoint, "--checkpoint")
        if self.data_dir is not None and self.config.dataset not in NEEDS_DATA_DIR:
            raise NeurodecorrError(f"--data-dir: applies only to {', '.join(NEEDS_DATA_DIR)}, "
                                   f"not to {self.config.dataset}")
        check_outputs({"--checkpoint": self.checkpoint, "--json": self.json_path,
                       "--plot": self.plot_path, "--save-network": self.save_network})
        if self.chip is not None:
            if self.checkpoint is not None:
                raise NeurodecorrError("--checkpoint/--resume: not supported with a chip "
                                       "(--device, --circuit): the device state is not saved")
            self.chip.check(self.config)

    def title(self) -> str:
        """The learning curves' title: data set, rule, decorrelation, chip."""
        c = self.config
        title = f"{c.dataset}: {c.algorithm}" + ("" if c.decorrelation == "none"
                                                 else f" + {c.decorrelation}")
        if self.chip is not None:
            device = f", {self.chip.device}" if self.chip.device else ""
            title += f" on chip ({self.chip.circuit}{device})"
        return title


class RunExtension(Protocol):
    """What a higher layer (the torch engine, diagnostics) adds to a run without this module
    importing it: its own trainer, an after-epoch hook, report fields and output files."""

    def make_trainer(self, run: TrainRun, data) -> Any | None:
        """A trainer with :class:`Trainer`'s ``fit``/``history``/``sizes``, or ``None``."""

    def after_epoch(self, trainer) -> None: ...

    def report(self, trainer) -> dict: ...

    def files(self, trainer, title: str) -> dict[str, bytes]: ...


def _trainer(run: TrainRun, data) -> Trainer:
    if run.chip is not None:
        from neurodecorr.learning.chip_trainer import ChipTrainer

        return ChipTrainer(run.config, data, run.chip)
    if run.resume:
        return resume_trainer(run.checkpoint, run.config, data)
    return Trainer(run.config, data)


def run_training(run: TrainRun, callbacks: EpochCallbacks | None = None,
                 extension: RunExtension | None = None) -> Trainer:
    """Load the data, train (resuming if asked), checkpoint every epoch, write the outputs.

    Returns the trainer; its ``history`` holds one row per epoch."""
    kwargs = {"data_dir": run.data_dir} if run.data_dir else {}
    data = load_dataset(run.config.dataset, **kwargs)
    trainer = (extension and extension.make_trainer(run, data)) or _trainer(run, data)

    def report(t: Trainer) -> bytes:
        doc = {"command": "train", "config": run.config.to_dict(), "data_dir": run.data_dir,
               "sizes": t.sizes, "n_train": len(data.x_train),
               "n_test": len(data.x_test), "history": t.history}
        if run.chip is not None:
            doc["chip"] = {"options": run.chip.to_dict(), "layers": t.chip.describe(),
                           "costs": t.costs()}
        if extension:
            doc.update(extension.report(t))
        return json_bytes(with_versions(doc))

    def after_epoch(t: Trainer) -> None:
        if extension:
            extension.after_epoch(t)
        if run.checkpoint:
            save_checkpoint(t, run.checkpoint)
        if run.json_path:
            write_outputs({run.json_path: report(t)})

    if callbacks is not None and callbacks.on_start is not None:
        callbacks.on_start(trainer.epoch, run.config.epochs)
    trainer.fit(callbacks, after_epoch)

    files: dict[str, bytes] = {}
    if run.json_path:
        files[run.json_path] = report(trainer)
    if run.save_network:
        # the data set travels with the network, so that evaluate and export-lava need no
        # --dataset for it (load_trained_network reads it back)
        saved = trainer.network.copy()
        saved.metadata = {**saved.metadata, "dataset": run.config.dataset}
        files[run.save_network] = npz_bytes(saved.to_arrays())
    if run.plot_path:
        from neurodecorr.learning.plot import history_figure_png

        files[run.plot_path] = history_figure_png(trainer.history, run.title())
    if extension:
        files.update(extension.files(trainer, run.title()))
    write_outputs(files)
    return trainer


def chip_options(config: TrainConfig, given: set[str], *, device: str | None,
                 circuit: str | None, chip_lr: float, update: str | None,
                 batch_interval_s: float) -> ChipOptions | None:
    """The chip a ``train`` run asks for (``None``: software training), refusing options that
    belong to the other kind of run. ``given`` names the options set on the command line."""
    if device is None and circuit is None:
        stray = sorted(given & {"chip_lr", "update"})
        if stray:
            raise NeurodecorrError(f"--{stray[0].replace('_', '-')} applies to a chip only "
                                   f"(--device or --circuit)")
        return None
    from neurodecorr.learning.chip_trainer import ChipOptions

    if "lr" in given:
        raise NeurodecorrError("--lr is Adam's rate of software training; the chip trains "
                               "by SGD pulses with its own step --chip-lr")
    return ChipOptions(circuit=circuit or DEFAULT_TRAIN_CIRCUIT, device=device,
                       batch_interval_s=batch_interval_s, seed=config.seed, lr=chip_lr,
                       update=update)


def summary_line(config: TrainConfig, trainer: Trainer) -> str | None:
    """One line on the last epoch of a finished run (``None`` when it trained none)."""
    history = trainer.history
    if not history:
        return None
    last = history[-1]
    return (f"{config.algorithm} ({config.decorrelation}) on {config.dataset}: epoch "
            f"{last['epoch']}, train {100 * last['train_acc']:.1f}%, test "
            f"{100 * last['test_acc']:.1f}%, best test "
            f"{100 * max(r['test_acc'] for r in history):.1f}% ({trainer.wall_s:.1f} s)")
