"""What the sweep needs to know about each command it can run.

A point runs the real command (in its own interpreter, :mod:`neurodecorr.sweep.point`). The sweep
reads the command's options from the command's own module, never through the CLI, so nothing
below the CLI imports it. The sweep fills in, per point, the files that the command writes
(in a temporary folder that is removed afterwards; only the metrics of ``--json`` are kept) and,
where the point gives ``n`` and ``batch``, the inputs it draws from its seed
(:mod:`neurodecorr.sweep.synthetic`). Everything else about the command's options is read from
its click definition, so a new option is sweepable without changes here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import click

from neurodecorr.errors import NeurodecorrError

#: Spec keys that ask for drawn inputs instead of files.
SIZE_KEYS = ("n", "batch")


@dataclass(frozen=True)
class Target:
    """A command the sweep runs.

    Attributes
    ----------
    name : str
        The subcommand.
    module : str
        The module that defines the subcommand's click ``command``.
    outputs : dict
        Option -> file name in the point's temporary folder, for every file the command must
        write besides ``--json``.
    drawn : dict
        Option -> what is drawn for it when the point gives ``n`` and ``batch``:
        ``"inputs"`` (correlated samples, shape (batch, n)) or ``"lateral"`` (a stable lateral
        matrix, shape (n, n)).
    refused : tuple of str
        Options a sweep cannot give: they would make every point write the same file.
    """

    name: str
    module: str
    outputs: dict[str, str] = field(default_factory=dict)
    drawn: dict[str, str] = field(default_factory=dict)
    refused: tuple[str, ...] = ()


TARGETS: dict[str, Target] = {
    "decorrelate": Target("decorrelate", "neurodecorr.commands.decorrelate",
                          outputs={"--out-matrix": "matrix.npy"}, drawn={"--input": "inputs"}),
    "settle": Target("settle", "neurodecorr.commands.settle", outputs={"--out": "xbar.npy"},
                     drawn={"--matrix": "lateral", "--input": "inputs"}),
    "train": Target("train", "neurodecorr.commands.train",
                    refused=("--checkpoint", "--plot", "--resume")),
}

#: The option through which every command writes its metrics.
JSON_OPTION = "--json"


def click_command(name: str) -> click.Command:
    """Import the click object of a subcommand (refusing one that is not installed)."""
    module_name = TARGETS[name].module
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise NeurodecorrError(f"command '{name}' is not available in this installation"
                                   ) from None
        raise
    return module.command


def options_by_spelling(command: click.Command) -> dict[str, click.Option]:
    """Every ``--long`` spelling of the command's options (``--no-x`` included) -> option."""
    found: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("--"):
                    found[opt] = param
    return found


def option_key(key: str) -> str:
    """A spec key as an option: ``foo_bar`` and ``foo-bar`` both become ``--foo-bar``."""
    return "--" + key.replace("_", "-")
