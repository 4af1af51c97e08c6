"""The sweep spec: a TOML ``[sweep]`` table, expanded into points.

::

    [sweep]
    command = "settle"       # settle, decorrelate or train
    n = 32                   # with batch: draw a stable lateral matrix and inputs from the seed
    batch = 16
    method = "rk4"           # a fixed argument: --method rk4
    seed = [1, 2]            # a list is swept
    device = ["ideal", "pcm"]

Every key but ``command`` is an option of the command (``foo_bar`` or ``foo-bar`` →
``--foo-bar``; ``true``/``false`` turn a flag on or off). The points are the Cartesian product of
all lists, in the order the keys are written (the first list varies slowest). Each point is
identified by a key: a hash of the command and all its arguments as written, so the same point
has the same key in every run and on every machine (the basis of resuming).

Options are checked against the command's own definition before anything runs, so a typo fails
in a second rather than on every one of hundreds of workers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import click

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import load_toml
from neurodecorr.sweep.targets import (
    JSON_OPTION,
    SIZE_KEYS,
    TARGETS,
    click_command,
    option_key,
    options_by_spelling,
)

Scalar = str | int | float | bool

#: Columns of the results that are not parameters or metrics.
RESERVED_COLUMNS = ("key", "status", "command", "elapsed_s")


@dataclass(frozen=True, eq=False)
class Point:
    """One run of the sweep.

    Attributes
    ----------
    key : str
        16 hex digits of SHA-256 over the command and its arguments as written in the spec.
    command : str
    params : dict
        Argument name (``foo_bar``) -> value, in spec order, swept and fixed alike.
    argv : tuple of str
        The command's options for this point, without drawn inputs, outputs and ``--json``,
        which the worker adds.
    sizes : tuple of int or None
        ``(n, batch, seed)`` when the point draws its inputs.
    """

    key: str
    command: str
    params: dict[str, Scalar]
    argv: tuple[str, ...]
    sizes: tuple[int, int, int] | None


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A validated sweep spec; :meth:`points` expands it."""

    path: Path
    command: str
    values: dict[str, list[Scalar]]
    swept: tuple[str, ...]
    _options: dict[str, tuple[str, ...]]

    @property
    def folder(self) -> Path:
        """The spec's folder: relative paths in the spec are relative to it."""
        return self.path.parent.resolve()

    @property
    def names(self) -> tuple[str, ...]:
        """All argument names, swept and fixed, in spec order."""
        return tuple(self.values)

    def points(self) -> list[Point]:
        """The Cartesian product of all swept lists, first key slowest."""
        points = []
        for combo in itertools.product(*self.values.values()):
            params = dict(zip(self.values, combo, strict=True))
            argv: list[str] = []
            for name, value in params.items():
                if name not in SIZE_KEYS:
                    argv += _argv_for(self._options[name], value)
            sizes = None
            if "n" in params:
                sizes = (params["n"], params["batch"], params.get("seed", 0))
            points.append(Point(point_key(self.command, params), self.command, params,
                                tuple(argv), sizes))
        return points


def point_key(command: str, params: dict[str, Scalar]) -> str:
    """Stable identity of a point: SHA-256 of its canonical JSON, first 16 hex digits."""
    text = json.dumps({"command": command, "params": params}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _argv_for(spelling: tuple[str, ...], value: Scalar) -> list[str]:
    # spelling is (option,) for a valued option, or (on, off) for a flag (off may be "").
    if len(spelling) == 2:
        chosen = spelling[0] if value else spelling[1]
        return [chosen] if chosen else []
    return [spelling[0], text_of(value)]


def text_of(value: Scalar) -> str:
    """A value as the command line (and the results CSV) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _type_name(value: object) -> str:
    return {dict: "a table", list: "a list"}.get(type(value), type(value).__name__)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec; every problem is a one-line error naming file and key."""
    path = Path(path)
    data = load_toml(path, "SPEC")
    for name in data:
        if name != "sweep":
            raise NeurodecorrError(f"{path}: unknown key or table '{name}'; a sweep spec has one "
                                   "[sweep] table")
    table = data.get("sweep")
    if not isinstance(table, dict):
        raise NeurodecorrError(f"{path}: missing [sweep] table")
    command = table.get("command")
    if not isinstance(command, str):
        raise NeurodecorrError(f"{path}: [sweep].command: missing or not a string; expected one "
                               f"of {', '.join(sorted(TARGETS))}")
    if command not in TARGETS:
        raise NeurodecorrError(f"{path}: [sweep].command: unknown command '{command}'; expected "
                               f"one of {', '.join(sorted(TARGETS))}")
    values = _values(path, {k: v for k, v in table.items() if k != "command"})
    target = TARGETS[command]
    options = options_by_spelling(click_command(command))
    if JSON_OPTION not in options:
        raise NeurodecorrError(f"{path}: [sweep].command: '{command}' has no {JSON_OPTION} "
                               "option, so its metrics cannot be collected")
    drawing = _check_sizes(path, command, values, bool(target.drawn))
    spellings: dict[str, tuple[str, ...]] = {}
    given: set[str] = set()
    for name, vals in values.items():
        if name in SIZE_KEYS:
            continue
        where = f"{path}: [sweep].{name}"
        opt = option_key(name)
        if opt == JSON_OPTION or opt in target.outputs:
            raise NeurodecorrError(f"{where}: set by the sweep for every point (outputs go to a "
                                   "temporary folder; the metrics go to the results); remove it")
        if opt not in options:
            raise NeurodecorrError(f"{where}: '{command}' has no option {opt}")
        if opt in target.refused:
            raise NeurodecorrError(f"{where}: {opt} would make every point write the same file; "
                                   "a sweep keeps the metrics of each point instead")
        param = options[opt]
        if drawing and any(o in target.drawn for o in param.opts):
            raise NeurodecorrError(f"{where}: given together with n and batch, which draw "
                                   f"{opt} from the seed; give one or the other")
        spellings[name] = _spelling(where, param, opt, vals)
        given.update(param.opts)
    provided = given | set(target.outputs) | {JSON_OPTION}
    if drawing:
        provided |= set(target.drawn)
    for param in click_command(command).params:
        if isinstance(param, click.Option) and param.required and not provided & set(param.opts):
            opt = next(o for o in param.opts if o.startswith("--"))
            hint = " (or n and batch, to draw it from the seed)" if opt in target.drawn else ""
            raise NeurodecorrError(f"{path}: [sweep]: '{command}' needs {opt}{hint}")
    swept = tuple(name for name, vals in values.items() if len(vals) > 1)
    return SweepSpec(path, command, values, swept, spellings)


def _values(path: Path, table: dict[str, object]) -> dict[str, list[Scalar]]:
    values: dict[str, list[Scalar]] = {}
    for key, raw in table.items():
        where = f"{path}: [sweep].{key}"
        name = key.replace("-", "_")
        if name in values:
            raise NeurodecorrError(f"{where}: given twice (as '{name}' and '{key}')")
        if name in RESERVED_COLUMNS:
            raise NeurodecorrError(f"{where}: '{name}' is a column of the results, not an "
                                   "argument")
        items = raw if isinstance(raw, list) else [raw]
        if isinstance(raw, list) and not raw:
            raise NeurodecorrError(f"{where}: empty list; a swept argument needs at least one "
                                   "value")
        for item in items:
            if not isinstance(item, Scalar):
                inside = " inside the list" if isinstance(raw, list) else ""
                raise NeurodecorrError(f"{where}: expected a string, number or boolean (or a "
                                       f"list of them), got {_type_name(item)}{inside}")
        if len({json.dumps(v) for v in items}) != len(items):
            raise NeurodecorrError(f"{where}: the list repeats a value")
        values[name] = list(items)
    return values


def _check_sizes(path: Path, command: str, values: dict[str, list[Scalar]],
                 can_draw: bool) -> bool:
    present = [k for k in SIZE_KEYS if k in values]
    if not present:
        return False
    where = f"{path}: [sweep].{present[0]}"
    if not can_draw:
        raise NeurodecorrError(f"{where}: only decorrelate and settle draw inputs from n and "
                               f"batch, not '{command}'")
    if len(present) != len(SIZE_KEYS):
        missing = next(k for k in SIZE_KEYS if k not in values)
        raise NeurodecorrError(f"{where}: needs {missing} too (n units, batch samples)")
    for key in (*SIZE_KEYS, "seed"):
        for v in values.get(key, []):
            low = 0 if key == "seed" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise NeurodecorrError(f"{path}: [sweep].{key}: expected an integer >= {low} to "
                                       f"draw inputs, got {v!r}")
    return True


def _spelling(where: str, param: click.Option, opt: str, vals: list[Scalar]
              ) -> tuple[str, ...]:
    if param.nargs != 1 or param.multiple:
        raise NeurodecorrError(f"{where}: {opt} takes several values and cannot be swept")
    if param.is_flag and not param.count:
        for v in vals:
            if not isinstance(v, bool):
                raise NeurodecorrError(f"{where}: {opt} is a flag; expected true or false, got "
                                       f"{v!r}")
        if opt in param.opts:
            return opt, next(iter(param.secondary_opts), "")
        return opt, next(o for o in param.opts if o.startswith("--"))
    for v in vals:
        if isinstance(v, bool) and param.type is not click.BOOL:
            raise NeurodecorrError(f"{where}: {opt} takes a value, not {text_of(v)}")
        # Paths are checked where the point runs: on a cluster they need not exist here.
        if isinstance(param.type, click.Path | click.File):
            if not isinstance(v, str):
                raise NeurodecorrError(f"{where}: {opt} takes a path; got {v!r}")
            continue
        try:
            converted = param.type.convert(text_of(v), param, None)
        except click.BadParameter as exc:
            raise NeurodecorrError(f"{where}: {exc.format_message()}") from None
        # the CLI refuses NaN and inf for every float option (once the CLI has wrapped the
        # command's types, convert above already does); the same words either way, before the
        # cluster starts, rather than a failed point
        if isinstance(converted, float) and not math.isfinite(converted):
            raise NeurodecorrError(f"{where}: Invalid value for '{opt}': {text_of(v)!r} is not "
                                   "a finite number")
    return (opt,)
