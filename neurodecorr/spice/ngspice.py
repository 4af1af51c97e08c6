"""Running ngspice in batch mode and reading its raw output file.

``ngspice -b netlist.cir -r out.raw`` simulates without the interactive front end and writes
every saved vector to a raw file: a text header (``Title``, ``Plotname``, ``Flags``,
``No. Variables``, ``No. Points``, ``Variables:`` one per line) followed by ``Binary:`` and the
points as little-endian float64, one row of all variables per point, or ``Values:`` and the same
numbers as text (ngspice manual, section "Raw file format"). Only real data (a transient or DC
analysis) is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from neurodecorr.errors import NeurodecorrError

#: how to install ngspice, for error messages and skipped tests
INSTALL_HINT = ("install ngspice (Debian/Ubuntu: apt-get install ngspice; "
                "macOS: brew install ngspice)")


def find_ngspice(executable: str = "ngspice") -> str | None:
    """The path of the ngspice executable (a name on PATH or a path), or None."""
    return shutil.which(executable)


def read_raw(data: bytes, source: str = "raw file") -> dict[str, np.ndarray]:
    """Vectors of the first plot of an ngspice raw file, by lower-case name (``time``, ``v(o1)``).

    Raises
    ------
    NeurodecorrError
        For a header that is incomplete, complex data, or fewer numbers than the header promises.
    """
    names: list[str] = []
    n_vars = n_points = None
    flags = ""
    pos = 0
    marker = None
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break
        line = data[pos:end].decode("latin-1").rstrip("\r")
        pos = end + 1
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags":
            flags = value.strip().lower()
        elif key == "no. variables":
            n_vars = int(value)
        elif key == "no. points":
            n_points = int(value)
        elif key == "variables":
            if n_vars is None:
                raise NeurodecorrError(f"{source}: 'Variables:' before 'No. Variables:'")
            for _ in range(n_vars):
                end = data.find(b"\n", pos)
                fields = data[pos:end].decode("latin-1").split()
                pos = end + 1
                if len(fields) < 2:
                    raise NeurodecorrError(f"{source}: malformed variable line {fields}")
                names.append(fields[1].lower())
        elif key in ("binary", "values"):
            marker = key
            break
    if marker is None or n_vars is None or n_points is None or len(names) != n_vars:
        raise NeurodecorrError(f"{source}: not an ngspice raw file (incomplete header)")
    if "complex" in flags:
        raise NeurodecorrError(f"{source}: complex data (an AC analysis); expected a transient")
    count = n_vars * n_points
    if marker == "binary":
        body = np.frombuffer(data, dtype="<f8", count=min(count, (len(data) - pos) // 8),
                             offset=pos)
    else:
        tokens = data[pos:].split()
        # each point is "index value1" then one value per line for the other variables
        numbers = [t for k, t in enumerate(tokens) if k % (n_vars + 1) != 0]
        body = np.array(numbers[:count], dtype=np.float64)
    if body.size < count:
        raise NeurodecorrError(f"{source}: {body.size} numbers for {n_points} points of "
                               f"{n_vars} variables (truncated)")
    table = body.reshape(n_points, n_vars)
    return {name: table[:, k].copy() for k, name in enumerate(names)}


def run_ngspice(netlist: str, executable: str = "ngspice", timeout_s: float = 600.0
                ) -> dict[str, np.ndarray]:
    """Simulate ``netlist`` with ``ngspice -b`` in a temporary folder; return its raw vectors.

    Raises
    ------
    NeurodecorrError
        When ngspice is not installed, fails, times out or writes no raw file; the message
        quotes ngspice's first error line.
    """
    path = find_ngspice(executable)
    if path is None:
        raise NeurodecorrError(f"ngspice: '{executable}' not found; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="neurodecorr-spice-") as folder:
        cir = Path(folder) / "layer.cir"
        raw = Path(folder) / "layer.raw"
        cir.write_text(netlist)
        env = dict(os.environ, SPICE_ASCIIRAWFILE="0")
        try:
            done = subprocess.run([path, "-b", "-r", str(raw), str(cir)], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise NeurodecorrError(f"ngspice: no result within {timeout_s:g} s") from None
        log = done.stdout + done.stderr
        errors = [ln.strip() for ln in log.splitlines() if "error" in ln.lower()]
        if done.returncode != 0 or not raw.is_file() or raw.stat().st_size == 0:
            reason = errors[0] if errors else f"exit status {done.returncode}, no raw file"
            raise NeurodecorrError(f"ngspice failed: {reason}")
        return read_raw(raw.read_bytes(), "ngspice raw output")
