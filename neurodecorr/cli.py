"""The ``neurodecorr`` command line.

Subcommands live one per module in :mod:`neurodecorr.commands` and are imported only when
called, so ``neurodecorr --help`` stays fast and a missing optional dependency (Lava) affects
only the command that needs it. Every command raises :class:`~neurodecorr.errors.NeurodecorrError`
for user errors; :func:`main` prints it as one line on stderr and returns 2.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from neurodecorr.errors import NeurodecorrError

#: subcommand name -> (module that defines ``command``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "decorrelate": ("neurodecorr.commands.decorrelate", "Learn a decorrelating matrix from data."),
    "settle": ("neurodecorr.commands.settle", "Integrate the lateral circuit to its fixed point."),
    "devices": ("neurodecorr.commands.devices", "List and show analogue device presets."),
    "circuits": ("neurodecorr.commands.circuits", "List and show circuit descriptions."),
    "train": ("neurodecorr.commands.train", "Train a network with BP, FA, DFA, NP or ANP."),
    "export-lava": ("neurodecorr.commands.export_lava", "Export a network to Lava processes."),
    "lava-run": ("neurodecorr.commands.lava_run", "Run an exported network in Lava."),
    "export-spice": ("neurodecorr.commands.export_spice",
                     "Write a lateral layer as an ngspice netlist."),
    "spice-check": ("neurodecorr.commands.spice_check",
                    "Check a lateral layer in ngspice against the simulator."),
    "bench": ("neurodecorr.commands.bench", "Benchmark the simulator against the reference."),
    "sweep": ("neurodecorr.commands.sweep", "Run a parameter sweep on Dask."),
}


def _package_version() -> str:
    try:
        return version("neurodecorr")
    except PackageNotFoundError:
        return "unknown"


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise click.UsageError(f"command '{cmd_name}' is not available yet") from None
            raise
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_package_version(), "--version", prog_name="neurodecorr")
def cli() -> None:
    """neurodecorr: decorrelating lateral circuits for analogue and neuromorphic chips."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status (2 for any user error, with no traceback)."""
    try:
        result = cli.main(args=argv, prog_name="neurodecorr", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # One line, like every other user error (click's usage block would add two more).
        print(f"neurodecorr: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Abort:
        print("neurodecorr: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("neurodecorr: interrupted", file=sys.stderr)
        return 130
    except NeurodecorrError as exc:
        print(f"neurodecorr: error: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
