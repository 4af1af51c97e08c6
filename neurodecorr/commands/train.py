"""``neurodecorr train``: train a dense network with one learning rule, with or without
decorrelation of every layer's input, and write its history, checkpoint and learning curves."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from neurodecorr.data import LOADERS, NEEDS_DATA_DIR, load_dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_output_folder, json_bytes, write_outputs
from neurodecorr.learning.checkpoint import resume_trainer, save_checkpoint
from neurodecorr.learning.config import ALGORITHMS, DECORRELATIONS, TrainConfig, parse_hidden
from neurodecorr.learning.plot import history_figure_png
from neurodecorr.learning.trainer import EpochCallbacks, Trainer


@contextmanager
def _epoch_bars(total_epochs: int, done: int, enabled: bool):
    """Rich bars on stderr: one over epochs, one over the current epoch's batches."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                  console=Console(stderr=True), transient=True,
                  disable=not enabled) as progress:
        epochs = progress.add_task("epochs", total=total_epochs, completed=done, info="")
        batches = progress.add_task(f"epoch {done + 1}", total=None, info="")

        def on_batch(k: int, n: int) -> None:
            progress.update(batches, completed=k, total=n)

        def on_epoch(row: dict) -> None:
            info = (f"train {100 * row['train_acc']:.1f}%  test {100 * row['test_acc']:.1f}%  "
                    f"loss {row['train_loss']:.3f}")
            progress.update(epochs, completed=row["epoch"], info=info)
            progress.reset(batches, description=f"epoch {row['epoch'] + 1}")

        yield EpochCallbacks(on_batch=on_batch, on_epoch=on_epoch)


def _check_output(path: str | None, what: str) -> None:
    if path is not None:
        check_output_folder(path, what)


@click.command(name="train")
@click.option("--dataset", type=click.Choice(sorted(LOADERS)), default="mnist1d",
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder with the CIFAR python-version batch files (cifar10, cifar100 only).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default="bp", show_default=True)
@click.option("--decorrelation", type=click.Choice(DECORRELATIONS), default="none",
              show_default=True, help="Decorrelation rule on every layer's input.")
@click.option("--hidden", default="2x256", show_default=True,
              help="Hidden layers: DEPTHxWIDTH (4x1000 in the paper) or widths 256,128.")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True,
              help="Adam learning rate of the forward weights.")
@click.option("--decor-lr", type=float, default=1e-3, show_default=True,
              help="η of the decorrelators; a step whose η·<|x|²> would reach 1 runs with "
                   "η = 0.5/<|x|²> (counted in the history).")
@click.option("--decor-batch-fraction", type=float, default=1.0, show_default=True,
              help="Fraction of each batch used to estimate the input correlations.")
@click.option("--decor-centre/--no-decor-centre", default=False, show_default=True,
              help="Centre decorrelator inputs with a running mean.")
@click.option("--decor-kappa", type=float, default=0.5, show_default=True,
              help="κ of the dbp rule.")
@click.option("--sigma", type=float, default=1e-3, show_default=True,
              help="Node-perturbation noise σ on every pre-activation (np, anp).")
@click.option("--feedback-scale", type=float, default=1.0, show_default=True,
              help="Multiplier of the fixed feedback matrices' initial scale (fa, dfa, signfa).")
@click.option("--fa-through-decorrelation/--fa-skip-decorrelation", default=True,
              show_default=True, help="fa/signfa: send the error back through Mᵀ or past it.")
@click.option("--negative-slope", type=float, default=0.01, show_default=True,
              help="Leaky ReLU slope below zero.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Save the network and training state here (.npz) after every epoch.")
@click.option("--resume", is_flag=True,
              help="Continue from --checkpoint (same settings; --epochs may be larger).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the configuration and per-epoch history as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Draw train and test accuracy against epochs (PNG).")
@click.option("--device", default=None,
              help="Train on a simulated chip whose arrays use this device preset (name or TOML "
                   "path; comma-separated for one per layer). --lr is then the SGD step.")
@click.option("--circuit", default=None,
              help="Train on a simulated chip built from this circuit description (name or "
                   "path; comma-separated for one per layer). Default with --device: ideal.")
@click.option("--batch-interval", "batch_interval_s", type=float, default=1e-3,
              show_default=True, help="With a chip: physical seconds between batches (drift).")
@click.option("--engine", type=click.Choice(("numpy", "torch")), default="numpy",
              show_default=True, help="numpy (the float64 reference) or torch (CPU or CUDA).")
@click.option("--torch-device", type=click.Choice(("auto", "cpu", "cuda")), default="auto",
              show_default=True, help="torch engine: where it runs (auto: CUDA when present).")
@click.option("--dtype", type=click.Choice(("float32", "float64")), default="float32",
              show_default=True, help="torch engine: floating-point type.")
@click.option("--conv", default="", help="torch engine: channels of 3×3 stride-2 convolutions "
              "before the dense layers, e.g. 32,64 (image data).")
@click.option("--decor-forward-demean", is_flag=True,
              help="torch engine: subtract a running mean before every decorrelator.")
@click.option("--diagnostics", is_flag=True,
              help="Per layer and epoch: cosine to the BP gradient, natural-gradient "
                   "alignment, FA invariant drift (in the JSON).")
@click.option("--diagnostics-plot", type=click.Path(dir_okay=False),
              help="Draw the diagnostics against epochs (PNG); implies --diagnostics.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show progress bars (only on a terminal).")
def command(dataset, data_dir, algorithm, decorrelation, hidden, epochs, batch_size, lr,
            decor_lr, decor_batch_fraction, decor_centre, decor_kappa, sigma, feedback_scale,
            fa_through_decorrelation, negative_slope, seed, checkpoint, resume, json_path,
            plot_path, device, circuit, batch_interval_s, engine, torch_device, dtype, conv,
            decor_forward_demean, diagnostics, diagnostics_plot, progress) -> None:
    """Train a dense network with BP, FA, sign-FA, DFA, NP or ANP.

    Every layer's input can be decorrelated (x̄ = M x, M ← g(I − ηC)M; Ahmad 2024). With the
    same seed, a run resumed from its checkpoint repeats the uninterrupted run exactly.

    With --device or --circuit the network is a simulated chip: every pass settles the lateral
    circuits and reads the crossbars, the lateral matrices learn on-chip by pulses (local rule,
    decorrelation ahmad) and the forward weights by SGD pulses (see docs/chip.md).
    """
    config = TrainConfig(dataset=dataset, algorithm=algorithm, decorrelation=decorrelation,
                         hidden=parse_hidden(hidden), epochs=epochs, batch_size=batch_size,
                         lr=lr, decor_lr=decor_lr, decor_batch_fraction=decor_batch_fraction,
                         decor_centre=decor_centre, decor_kappa=decor_kappa, sigma=sigma,
                         feedback_scale=feedback_scale,
                         fa_through_decorrelation=fa_through_decorrelation,
                         negative_slope=negative_slope, seed=seed)
    if resume and checkpoint is None:
        raise NeurodecorrError("--resume needs --checkpoint PATH")
    if resume and not Path(checkpoint).is_file():
        raise NeurodecorrError(f"--checkpoint: no such file to resume from: {checkpoint}")
    if data_dir is not None and dataset not in NEEDS_DATA_DIR:
        raise NeurodecorrError(f"--data-dir: applies only to {', '.join(NEEDS_DATA_DIR)}, "
                               f"not to {dataset}")
    for path, what in ((checkpoint, "--checkpoint"), (json_path, "--json"),
                       (plot_path, "--plot"), (diagnostics_plot, "--diagnostics-plot")):
        _check_output(path, what)
    diagnostics = diagnostics or diagnostics_plot is not None
    torch_options = None
    if engine == "torch":
        from neurodecorr.torch.engine import TorchOptions

        if device is not None or circuit is not None or checkpoint or resume:
            raise NeurodecorrError("--engine torch: --device, --circuit, --checkpoint and "
                                   "--resume need the numpy engine")
        torch_options = TorchOptions(device=torch_device, dtype=dtype,
                                     conv=parse_hidden(conv) if conv else (),
                                     forward_demean=decor_forward_demean,
                                     diagnostics=diagnostics)
    elif conv or decor_forward_demean:
        raise NeurodecorrError("--conv, --decor-forward-demean: need --engine torch")

    on_chip = device is not None or circuit is not None
    if on_chip and diagnostics:
        raise NeurodecorrError("--diagnostics: not available on a chip (--device, --circuit)")
    if on_chip and (checkpoint or resume):
        raise NeurodecorrError("--checkpoint/--resume: not supported with a chip (--device, "
                               "--circuit): the device state is not saved")
    options = None
    if on_chip:
        from neurodecorr.circuits.chip import resolve_per_layer
        from neurodecorr.circuits.description import load_circuit
        from neurodecorr.devices import load_device
        from neurodecorr.learning.chip_engine import ChipOptions

        options = ChipOptions(circuit=circuit or "ideal", device=device,
                              batch_interval_s=batch_interval_s, seed=seed)
        n_layers = len(config.hidden) + 1
        for c in resolve_per_layer(options.circuit, n_layers, "--circuit"):
            load_circuit(c)
        for d in resolve_per_layer(device, n_layers, "--device"):
            if d is not None:
                load_device(d)
    data = load_dataset(dataset, data_dir=data_dir) if data_dir else load_dataset(dataset)
    hooks = []
    if on_chip:
        from neurodecorr.learning.chip_engine import ChipTrainer

        trainer = ChipTrainer(config, data, options)
    elif torch_options is not None:
        from neurodecorr.torch.engine import TorchTrainer

        trainer = TorchTrainer(config, data, torch_options)
    else:
        trainer = (resume_trainer(checkpoint, config, data) if resume
                   else Trainer(config, data))
        if diagnostics:
            from neurodecorr.torch.adapter import NumpyDiagnostics

            hooks.append(NumpyDiagnostics(trainer))
    if checkpoint:
        hooks.append(lambda t: save_checkpoint(t, checkpoint))

    def after_epoch(t) -> None:
        for hook in hooks:
            hook(t)
    with _epoch_bars(epochs, trainer.epoch, progress and sys.stderr.isatty()) as callbacks:
        history = trainer.fit(callbacks, after_epoch)

    files: dict[str, bytes] = {}
    if json_path:
        files[json_path] = json_bytes({
            "command": "train", "config": config.to_dict(), "data_dir": data_dir,
            "engine": ({"name": "torch", **torch_options.to_dict(),
                        "device_used": trainer.describe_device()} if torch_options
                       else {"name": "numpy"}),
            "sizes": trainer.sizes if torch_options else trainer.model.sizes,
            "n_train": len(data.x_train),
            "n_test": len(data.x_test), "history": history,
            **({"chip": {"options": options.to_dict(), "layers": trainer.chip.describe(),
                         "costs": trainer.costs()}} if on_chip else {}),
        })
    title = f"{dataset}: {algorithm}" + ("" if decorrelation == "none"
                                         else f" + {decorrelation}")
    if on_chip:
        title += f" on chip ({options.circuit}" + (f", {device})" if device else ")")
    if plot_path:
        files[plot_path] = history_figure_png(history, title)
    if diagnostics_plot:
        from neurodecorr.learning.diagnostics_plot import diagnostics_figure_png

        files[diagnostics_plot] = diagnostics_figure_png(history, title)
    write_outputs(files)
    if history:
        last = history[-1]
        print(f"{algorithm} ({decorrelation}) on {dataset}: epoch {last['epoch']}, train "
              f"{100 * last['train_acc']:.1f}%, test {100 * last['test_acc']:.1f}%, best test "
              f"{100 * max(r['test_acc'] for r in history):.1f}%", file=sys.stderr)
