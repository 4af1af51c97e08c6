"""Running one sweep point: the task each Dask worker executes.

The point runs the real command, ``neurodecorr COMMAND ...``, in a process of its own rather
than through :func:`neurodecorr.cli.main` inside the worker. The separate process

* isolates the worker from the point: a crash, an out-of-memory kill or a hang becomes that
  point's error row (after ``timeout_s`` the process is killed) instead of a dead worker that
  Dask would retry the same point on, one worker after another;
* keeps process-wide state apart: stderr capture, numeric settings and thread pools are per
  process, which matters on user clusters whose workers run several tasks at once;
* runs exactly what a user would type, so a failed point reproduces by hand.

The process is forked from a warm server that has the commands imported
(:mod:`.forkserver`), so a point does not pay the interpreter start and the imports (about a
second each; the command's own work in a small settle is milliseconds). Dask's nanny sets
``OMP_NUM_THREADS=1`` (and the MKL/OpenBLAS equivalents) for its workers; the server and its
forks inherit it, so one point uses one core.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from neurodecorr.io import write_npy
from neurodecorr.sweep.forkserver import ServerLost, run_command
from neurodecorr.sweep.spec import Point
from neurodecorr.sweep.synthetic import correlated_inputs, stable_lateral
from neurodecorr.sweep.targets import JSON_OPTION, TARGETS

Cell = str | int | float | bool | None

#: Prefix of the one-line user errors the CLI prints.
ERROR_PREFIX = "neurodecorr: error: "


def run_point(point: Point, folder: str, timeout_s: float | None = None,
              preload: tuple[str, ...] = ()) -> dict[str, object]:
    """Run one point; never raises for a failure of the point itself.

    Parameters
    ----------
    point : Point
    folder : str
        The spec's folder; the command runs there so relative paths in the spec resolve as
        written (on a worker without that folder it runs in its temporary folder).
    timeout_s : float, optional
        Kill the command after this many seconds.
    preload : tuple of str
        Modules the worker's point server imports once, ahead of its first point
        (:func:`neurodecorr.sweep.targets.target_modules`; data, since a worker process has not
        imported the CLI that registered them).

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"error: <one line>"``), ``elapsed_s`` and ``metrics`` (the
        command's ``--json`` flattened to scalars, see :func:`flatten_metrics`).
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"sweep-{point.key}-", dir=_scratch()) as tmp:
        status, metrics = _run(point, Path(tmp), folder, timeout_s, preload)
    return {"status": status, "elapsed_s": time.perf_counter() - start, "metrics": metrics}


def _scratch() -> str | None:
    # A worker's own folder is removed when the worker closes, even if a point was cut short.
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError):
        return None


def _run(point: Point, tmp: Path, folder: str, timeout_s: float | None,
         preload: tuple[str, ...]) -> tuple[str, dict[str, Cell]]:
    target = TARGETS[point.command]
    argv = [point.command, *point.argv]
    try:
        if point.sizes is not None:
            n, batch, seed = point.sizes
            draws = {"inputs": lambda: correlated_inputs(n, batch, seed),
                     "lateral": lambda: stable_lateral(n, seed)}
            for opt, kind in target.drawn.items():
                write_npy(tmp / f"{kind}.npy", draws[kind]())
                argv += [opt, str(tmp / f"{kind}.npy")]
    except (ValueError, MemoryError) as exc:
        return _one_line(f"drawing inputs failed: {exc}"), {}
    for opt, name in target.outputs.items():
        argv += [opt, str(tmp / name)]
    json_path = tmp / "metrics.json"
    argv += [JSON_OPTION, str(json_path)]
    cwd = folder if os.path.isdir(folder) else str(tmp)
    stderr_path = tmp / "stderr.txt"
    try:
        returncode = run_command(argv, cwd, str(stderr_path), timeout_s, preload)
    except TimeoutError:
        return f"error: timed out after {timeout_s:g} s", {}
    except ServerLost as exc:
        return _one_line(str(exc)), {}
    if returncode != 0:
        stderr = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
        return _one_line(error_line(stderr, returncode)), {}
    try:
        report = json.loads(json_path.read_text())
    except FileNotFoundError:
        return "error: the command exited 0 but wrote no --json metrics", {}
    except json.JSONDecodeError as exc:
        return _one_line(f"unreadable --json metrics: {exc}"), {}
    return "ok", flatten_metrics(report, drop=str(tmp))


def error_line(stderr: str, returncode: int) -> str:
    """The one line that says why a command failed.

    The CLI's own ``neurodecorr: error: ...`` line when there is one; otherwise the last line
    of stderr (the exception of a traceback) with the exit status, or the signal that killed it.
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX):]
    if returncode < 0:
        how = f"killed by signal {-returncode}"
    else:
        how = f"exit status {returncode}"
    return f"{lines[-1]} ({how})" if lines else how


def _one_line(message: str) -> str:
    return "error: " + " ".join(message.split())


def _extremes(records: list[dict], pick) -> dict[str, float]:
    numeric: dict[str, list[float]] = {}
    for record in records:
        for name, value in record.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                numeric.setdefault(name, []).append(value)
    return {name: pick(values) for name, values in numeric.items()}


def flatten_metrics(report: object, drop: str = "", prefix: str = "") -> dict[str, Cell]:
    """The scalars of a JSON report, nested names joined with dots.

    ``{"metrics": {"rms": 0.1}, "curve": [..]}`` → ``{"metrics.rms": 0.1}``. A list of records
    (a per-epoch ``history``) gives its last record (``history.last.test_acc``) and the
    smallest and largest value of each numeric field over the records (``history.max.test_acc``,
    ``history.min.train_loss``). Other lists (curves, arrays) are left out: a CSV cell holds one
    number. JSON ``null`` (no value, or a non-finite number, which JSON cannot hold) becomes an
    empty cell. Strings that contain ``drop`` (paths into the point's temporary folder, which
    no longer exists) are left out.
    """
    flat: dict[str, Cell] = {}
    if not isinstance(report, dict):
        return flat
    for name, value in report.items():
        full = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, drop, full + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            flat.update(flatten_metrics(value[-1], drop, full + ".last."))
            for which, pick in (("min", min), ("max", max)):
                flat.update(flatten_metrics(_extremes(value, pick), drop, f"{full}.{which}."))
        elif value is None:
            flat[full] = None
        elif isinstance(value, str):
            if not (drop and drop in value):
                flat[full] = " ".join(value.split())
        elif isinstance(value, int | float | bool):
            flat[full] = value
    return flat
