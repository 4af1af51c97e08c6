"""What the sweep needs to know about each command it can run.

A point runs the real command (in its own interpreter, :mod:`neurodecorr.sweep.point`). The sweep
reads the command's options from the command's click definition, which it finds through
:func:`register_commands`: the CLI layer hands over the module that defines each subcommand, so
the sweep never names the command layer and nothing below the CLI imports it. The sweep fills
in, per point, the files that the command writes (in a temporary folder that is removed
afterwards; only the metrics of ``--json`` are kept) and, where the point gives ``n`` and
``batch``, the inputs it draws from its seed
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
    outputs: dict[str, str] = field(default_factory=dict)
    drawn: dict[str, str] = field(default_factory=dict)
    refused: tuple[str, ...] = ()


TARGETS: dict[str, Target] = {
    "decorrelate": Target("decorrelate", outputs={"--out-matrix": "matrix.npy"},
                          drawn={"--input": "inputs"}),
    "settle": Target("settle", outputs={"--out": "xbar.npy"},
                     drawn={"--matrix": "lateral", "--input": "inputs"}),
    "train": Target("train", refused=("--checkpoint", "--plot", "--resume")),
}

#: Subcommand -> the module that defines its click ``command``, as the CLI registered it.
_MODULES: dict[str, str] = {}

#: The option through which every command writes its metrics.
JSON_OPTION = "--json"


def register_commands(modules: dict[str, str]) -> None:
    """Tell the sweep where each subcommand is defined (called by the CLI layer).

    Parameters
    ----------
    modules : dict
        Subcommand name -> importable module whose ``command`` attribute is its click command.
        Only the names in :data:`TARGETS` are kept.
    """
    _MODULES.update({name: module for name, module in modules.items() if name in TARGETS})


def target_modules() -> tuple[str, ...]:
    """The registered modules of the sweepable commands (what a point server imports ahead)."""
    return tuple(_MODULES[name] for name in TARGETS if name in _MODULES)


def click_command(name: str) -> click.Command:
    """Import the click object of a subcommand (refusing one that is not installed)."""
    module_name = _MODULES.get(name)
    if module_name is None:
        raise NeurodecorrError(f"command '{name}' is not registered with the sweep (the CLI "
                               "registers its commands when neurodecorr.cli is imported)")
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
