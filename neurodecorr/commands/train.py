"""``neurodecorr train``: train a network (dense; with the torch engine, convolutions first if
asked) with one learning rule, with or without decorrelation of every layer's input, and write
its history, checkpoint and learning curves."""

from __future__ import annotations

import sys

import click

from neurodecorr.circuits.updates import UPDATES
from neurodecorr.data import LOADERS
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning.config import ALGORITHMS, DECORRELATIONS, TrainConfig, parse_hidden
from neurodecorr.learning.run import TrainRun, chip_options, run_training, summary_line
from neurodecorr.progress import epoch_bars

#: options of the torch engine only, by parameter name; refused on the numpy engine when given
#: on the command line (their defaults are never an error)
TORCH_ONLY = {"torch_device": "--torch-device", "dtype": "--dtype", "conv": "--conv",
              "decor_forward_demean": "--decor-forward-demean"}


@click.command(name="train")
@click.option("--dataset", type=click.Choice(sorted(LOADERS)), default="mnist1d",
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder with the CIFAR batch files, python or binary version (cifar10, "
                   "cifar100 only).")
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
                   "path; comma-separated for one per layer).")
@click.option("--chip-lr", type=float, default=0.2, show_default=True,
              help="With a chip: the SGD step of the forward arrays (the chip has no Adam; "
                   "--lr does not apply).")
@click.option("--update", type=click.Choice(UPDATES), default=None,
              help="With a chip: update algorithm of every array, overriding the circuits' "
                   "`update` keys (default: the circuits'; mixed-precision in the default "
                   "circuit, sgd where a circuit names none).")
@click.option("--circuit", default=None,
              help="Train on a simulated chip built from this circuit description (name or "
                   "path; comma-separated for one per layer). Default with --device: "
                   "node-reference, the study's best for on-chip learning (diagonal reference, "
                   "mixed precision); `ideal` with --device ideal equals the software network.")
@click.option("--save-network", type=click.Path(dir_okay=False),
              help="Write the trained network (.npz; a chip run: what its arrays hold) for "
                   "`neurodecorr evaluate` and export-lava.")
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
              help="Show progress bars on a terminal; off a terminal, or with --no-progress, "
                   "print one line per epoch.")
def command(hidden, data_dir, checkpoint, resume, json_path, plot_path, device, circuit,
            chip_lr, update, save_network, batch_interval_s, engine, torch_device, dtype, conv,
            decor_forward_demean, diagnostics, diagnostics_plot, progress, **settings) -> None:
    """Train a network with BP, FA, sign-FA, DFA, NP or ANP: dense, or (--engine torch --conv)
    convolutions before the dense layers.

    Every layer's input can be decorrelated (x̄ = M x, M ← g(I − ηC)M; Ahmad 2024). With the
    same seed, a run resumed from its checkpoint repeats the uninterrupted run exactly.

    With --device or --circuit the network is a simulated chip: every pass settles the lateral
    circuits and reads the crossbars, the lateral matrices learn on-chip by pulses (local rule,
    decorrelation ahmad) and the forward weights by SGD pulses (see docs/chip.md).
    """
    config = TrainConfig(hidden=parse_hidden(hidden), **settings)
    chip = chip_options(config, _given(click.get_current_context()), device=device,
                        circuit=circuit, chip_lr=chip_lr, update=update,
                        batch_interval_s=batch_interval_s)
    run = TrainRun(config, data_dir=data_dir, checkpoint=checkpoint, resume=resume, chip=chip,
                   json_path=json_path, plot_path=plot_path, save_network=save_network)
    given = _given(click.get_current_context())
    torch_only = [flag for name, flag in TORCH_ONLY.items() if name in given]
    if engine != "torch" and torch_only:
        raise NeurodecorrError(f"{', '.join(torch_only)}: "
                               f"{'needs' if len(torch_only) == 1 else 'need'} --engine torch")
    extension = None
    if engine == "torch" or diagnostics or diagnostics_plot:
        from neurodecorr.torch.run import torch_extension

        extension = torch_extension(run, engine, torch_device=torch_device, dtype=dtype,
                                    conv=conv, forward_demean=decor_forward_demean,
                                    diagnostics=diagnostics, diagnostics_plot=diagnostics_plot)
    with epoch_bars(progress) as callbacks:
        trainer = run_training(run, callbacks, extension)
    line = summary_line(config, trainer)
    if line:
        print(line, file=sys.stderr)


def _given(ctx: click.Context) -> set[str]:
    """The options the user set on the command line (not defaults)."""
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
