"""The results CSV: one row per point, written as each point finishes.

Columns: ``key``, ``status``, ``command``, the spec's arguments, ``elapsed_s``, then the
metrics in the order they first appear. A finished row is appended, flushed and fsynced at
once, so stopping the sweep (Ctrl-C, a lost machine) loses no finished point. Two events
rewrite the whole file atomically instead (through :func:`neurodecorr.io.write_outputs`): a row
that brings a metric no earlier row had (the header widens, earlier rows get empty cells), and
a re-run point replacing its old row. The file is thus always one header and one row per key,
whatever order rows arrive in and whatever metrics each command reports.

A file cut off in the middle of a row (the machine died during the append) is read back without
that last, partial row; the point is simply run again.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_output_folder, write_outputs
from neurodecorr.sweep.spec import text_of


def cell(value: object) -> str:
    """A value as written into the CSV: floats in full precision, NaN as ``nan``."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, str | int | float | bool):
        return text_of(value)
    return str(value)


def read_rows(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a results CSV; a partial last line is left out."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise NeurodecorrError(f"--out: {path} is not a sweep results CSV (not text)") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    records = list(csv.reader(io.StringIO(text)))
    if not records:
        return [], []
    header = records[0]
    if "key" not in header or "status" not in header:
        raise NeurodecorrError(f"--out: {path} exists and is not a sweep results CSV (no 'key' "
                               "and 'status' columns); choose another file")
    rows = [dict(zip(header, r, strict=True)) for r in records[1:] if len(r) == len(header)]
    return header, rows


class ResultsFile:
    """The results CSV of one sweep, kept in step with the rows in memory.

    Reading checks the file; nothing is written until :meth:`start`, so a sweep that fails
    before it runs (say, no scheduler answers) leaves no file behind.

    Parameters
    ----------
    path : path-like
        The CSV; an existing one is read back (resume) and rewritten with the union of its
        columns and ``columns``.
    columns : iterable of str
        The fixed leading columns.
    """

    def __init__(self, path: str | os.PathLike, columns: Iterable[str]) -> None:
        self.path = Path(path)
        check_output_folder(self.path, "--out")
        self.columns = list(columns)
        self.rows: dict[str, dict[str, str]] = {}
        if self.path.exists():
            header, rows = read_rows(self.path)
            self.columns += [c for c in header if c not in self.columns]
            self.rows = {row["key"]: row for row in rows}

    def start(self) -> None:
        """Write the header and the rows read back, dropping any partial last line."""
        self._rewrite()

    def status(self, key: str) -> str | None:
        """The recorded status of a point, or None when it has no row."""
        row = self.rows.get(key)
        return None if row is None else row["status"]

    def add(self, row: dict[str, object]) -> None:
        """Record one finished point (replacing an earlier row of the same key)."""
        cells = {name: cell(value) for name, value in row.items()}
        replaces = cells["key"] in self.rows
        new = [name for name in cells if name not in self.columns]
        self.rows[cells["key"]] = cells
        if replaces or new:
            self.columns += new
            self._rewrite()
            return
        try:
            with open(self.path, "a", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow([cells.get(c, "") for c in self.columns])
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise NeurodecorrError(f"--out: cannot append to {self.path} "
                                   f"({(exc.strerror or str(exc)).lower()})") from None

    def _rewrite(self) -> None:
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows.values():
            writer.writerow([row.get(c, "") for c in self.columns])
        write_outputs({self.path: buf.getvalue().encode()})
