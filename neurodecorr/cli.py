"""The ``neurodecorr`` command line.

Subcommands live one per module in :mod:`neurodecorr.commands` and are imported only when
called, so ``neurodecorr --help`` stays fast and a missing optional dependency (Lava) affects
only the command that needs it. Every command raises :class:`~neurodecorr.errors.NeurodecorrError`
for user errors; :func:`main` prints it as one line on stderr and returns 2.

:func:`main` is also where the process-wide promises of docs/reliability.md are kept, once for
every command: float options refuse NaN and infinity, warnings are held back until the command
succeeds (a failed command prints its one error line and nothing before it), SIGTERM unwinds
like Ctrl-C so that cleanup runs, and a closed stdout (``neurodecorr devices list | head -1``)
ends the command quietly with status 0.
"""

from __future__ import annotations

import importlib
import math
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

import click

from neurodecorr.errors import NeurodecorrError

#: subcommand name -> (module that defines ``command``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "decorrelate": ("neurodecorr.commands.decorrelate", "Learn a decorrelating matrix from data."),
    "settle": ("neurodecorr.commands.settle", "Integrate the lateral circuit to its fixed point."),
    "devices": ("neurodecorr.commands.devices", "List and show analogue device presets."),
    "circuits": ("neurodecorr.commands.circuits", "List and show circuit descriptions."),
    "evaluate": ("neurodecorr.commands.evaluate",
                 "Score a saved network on a chip against time (drift, compensation)."),
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


def register_sweep_targets() -> None:
    """Tell the sweep library where the commands it runs are defined.

    The sweep learns the modules from here, so that the library below the CLI never names the
    command layer; done when ``sweep`` is loaded (the sweep package is not imported otherwise,
    which keeps ``neurodecorr --help`` fast).
    """
    from neurodecorr.sweep.targets import register_commands

    register_commands({name: module for name, (module, _) in COMMANDS.items()})


def _package_version() -> str:
    try:
        return version("neurodecorr")
    except PackageNotFoundError:
        return "unknown"


class _Finite:
    """Mixin for click's float types: refuse NaN and infinity, which compare false with every
    bound and so pass any ``FloatRange``."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class FiniteFloat(_Finite, click.types.FloatParamType):
    """A float option that must be finite."""


class FiniteFloatRange(_Finite, click.FloatRange):
    """A bounded float option that must be finite."""


def require_finite_floats(command: click.Command) -> click.Command:
    """Make every float option of ``command`` (and its subcommands) refuse NaN and infinity."""
    for param in command.params:
        if type(param.type) is click.types.FloatParamType:
            param.type = FiniteFloat()
        elif type(param.type) is click.FloatRange:
            finite = FiniteFloatRange.__new__(FiniteFloatRange)
            finite.__dict__.update(param.type.__dict__)
            param.type = finite
    for sub in getattr(command, "commands", {}).values():
        require_finite_floats(sub)
    return command


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and cleanup handler runs."""


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # someone (a test runner, an embedding program) has its own handler
        return
    pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != pid:  # a forked child (Lava, multiprocessing): die as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stdout_closed() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as ``cat`` and ``ls`` do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 0


class _StdoutClosed(Exception):
    """A broken pipe on stdout, carried past click (which would turn it into exit status 1)."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _StdoutClosed from exc
        except SystemExit as exc:
            # rich's Console meets a closed stdout with SystemExit(1) raised while handling the
            # BrokenPipeError: the same closed pipe, so the same quiet exit
            if isinstance(exc.__context__, BrokenPipeError):
                raise _StdoutClosed from exc
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        if cmd_name == "sweep":
            register_sweep_targets()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise click.UsageError(f"command '{cmd_name}' is not available yet") from None
            raise
        return require_finite_floats(module.command)

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
    held: list[warnings.WarningMessage] = []
    try:
        with _sigterm_unwinds(), warnings.catch_warnings(record=True) as held:
            result = cli.main(args=argv, prog_name="neurodecorr", standalone_mode=False)
            sys.stdout.flush()
    except (BrokenPipeError, _StdoutClosed):
        return _stdout_closed()
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # One line, like every other user error (click's usage block would add two more).
        print(f"neurodecorr: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except (Terminated, click.exceptions.Abort) as exc:
        # click turns Ctrl-C into Abort; SIGTERM is told apart by what it was raised from
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            print("neurodecorr: terminated", file=sys.stderr)
            return 143
        print("neurodecorr: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("neurodecorr: interrupted", file=sys.stderr)
        return 130
    except NeurodecorrError as exc:
        print(f"neurodecorr: error: {exc}", file=sys.stderr)
        return 2
    # The command succeeded: now its warnings may be shown (a failed one shows only its error).
    for w in held:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # ``python -m neurodecorr.cli`` runs as ``python -m neurodecorr``
    sys.exit(main())
