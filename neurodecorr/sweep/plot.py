"""A figure of one metric of a sweep against one parameter.

Each line is one value of an optional grouping parameter; each marker is the mean over all the
finished (``ok``) points at that x (seeds and any other parameters), with an error bar of one
sample standard deviation when there are several. Numeric x is drawn on a linear axis (log
when positive and spanning two decades or more), text x (device names) as categories.
"""

from __future__ import annotations

import io
import math
import os
from collections import defaultdict

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import write_outputs


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def summarise(rows: list[dict[str, str]], x: str, y: str, group: str | None = None
              ) -> dict[str, list[tuple[str, float, float, int]]]:
    """Group ``ok`` rows: group value -> [(x, mean y, s.d. of y, count)] in order of first x.

    Rows whose ``y`` is empty or not finite are left out.
    """
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.get("status") != "ok":
            continue
        value = _float(row.get(y, ""))
        if value is None or not math.isfinite(value):
            continue
        cells[row[group] if group else ""][row[x]].append(value)
    summary = {}
    for g, by_x in cells.items():
        summary[g] = [(xv, float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                       len(v)) for xv, v in by_x.items()]
    return summary


def plot_metric(rows: list[dict[str, str]], columns: list[str], x: str, y: str,
                out: str | os.PathLike, group: str | None = None, title: str = "") -> None:
    """Draw ``y`` against ``x`` (lines by ``group``) and write the PNG atomically."""
    for option, name in (("--plot-x", x), ("--plot-y", y), ("--plot-group", group)):
        if name is not None and name not in columns:
            raise NeurodecorrError(f"{option}: no column '{name}' in the results; columns are "
                                   f"{', '.join(columns)}")
    summary = summarise(rows, x, y, group)
    if not summary:
        raise NeurodecorrError(f"--plot-y: no finished point has a finite value of '{y}'")
    xs = [xv for series in summary.values() for xv, *_ in series]
    numeric = all(_float(v) is not None for v in xs)
    categories = list(dict.fromkeys(xs))
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    groups = sorted(summary, key=lambda v: (_float(v) is None, _float(v) or 0.0, v))
    for i, g in enumerate(groups):
        series = summary[g]
        if numeric:
            series = sorted(series, key=lambda s: float(s[0]))
            pos = [float(s[0]) for s in series]
        else:
            # groups side by side within each category, so that equal values stay visible
            dodge = 0.5 * (i - (len(groups) - 1) / 2) / max(len(groups), 2)
            pos = [categories.index(s[0]) + dodge for s in series]
        # categories have no order between them: markers only, no joining line
        ax.errorbar(pos, [s[1] for s in series], yerr=[s[2] for s in series], marker="o",
                    capsize=3, linestyle="-" if numeric else "none",
                    label=f"{group} = {g}" if group else None)
    if numeric:
        values = np.array([float(v) for v in xs])
        if np.all(values > 0) and values.max() / values.min() >= 100:
            ax.set_xscale("log")
    else:
        ax.set_xticks(range(len(categories)), categories)
        ax.set_xlim(-0.5, len(categories) - 0.5)
    counts = sorted({s[3] for series in summary.values() for s in series})
    per = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    per += " point" if counts[-1] == 1 else " points"
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{y} against {x} (mean ± s.d. of {per} each)", fontsize=10)
    ax.grid(True, alpha=0.3)
    if group:
        ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    write_outputs({out: buf.getvalue()})
