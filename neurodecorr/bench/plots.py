"""Figures of a benchmark run: error per device preset, cost against n, settling times."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def error_per_device(cases: list[dict[str, Any]]) -> bytes | None:
    """Bar chart of each settle case's relative error to the reference, labelled by device."""
    rows = [c for c in cases if c.get("kind") == "settle" and c.get("rel_error") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(rows) + 2), 3.5))
    labels = [f"{c['device']}\n{c['name']}" for c in rows]
    errors = [max(c["rel_error"], 1e-17) for c in rows]
    ax.bar(range(len(rows)), errors, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("relative error to reference")
    ax.set_title("Settled states against the exact fixed point")
    return _png(fig)


def cost_against_n(cases: list[dict[str, Any]]) -> bytes | None:
    """Seconds per sample against n (log-log) with the fitted power law of each scaling case."""
    rows = [c for c in cases if c.get("kind") == "scaling"]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for c in rows:
        n = np.asarray(c["ns"], dtype=float)
        cost = np.asarray(c["seconds_per_sample"], dtype=float)
        ax.loglog(n, cost, "o-", label=f"{c['name']} (exponent {c['cost_exponent']:.2f})")
        if "gemm_seconds_per_sample" in c:
            ax.loglog(n, c["gemm_seconds_per_sample"], "k--", lw=0.8, label="one GEMM per step")
    # the measured sizes as the only tick labels: log-axis minor labels (2×10², 3×10², ...)
    # run into each other
    ticks = sorted({int(v) for c in rows for v in c["ns"]})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("n (nodes)")
    ax.set_ylabel("seconds per sample to settle")
    ax.legend(fontsize=8)
    ax.set_title("Cost of settling against n")
    return _png(fig)


def settling_times(cases: list[dict[str, Any]]) -> bytes | None:
    """Per-sample settling times (circuit time) of every settle case: one row per case, with
    the median (bar) and the quartiles (band) over the samples and every sample as a point.

    Rows rather than overlaid histograms: cases that settle alike would hide one another.
    """
    rows = [c for c in cases if c.get("settling_times_s")]
    times = [np.asarray([v for v in c["settling_times_s"] if v is not None], dtype=float) * 1e6
             for c in rows]
    rows = [c for c, t in zip(rows, times, strict=True) if t.size]
    times = [t for t in times if t.size]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.4))
    jitter = np.random.default_rng(0)  # fixed: the same figure from the same result
    for i, t in enumerate(times, start=1):
        q1, median, q3 = np.percentile(t, [25, 50, 75])
        ax.plot([q1, q3], [i, i], lw=8, alpha=0.3, color="tab:orange", solid_capstyle="butt")
        ax.plot([median], [i], "|", ms=14, mew=2, color="tab:orange")
        ax.plot(t, i + jitter.uniform(-0.2, 0.2, t.size), ".", ms=2, alpha=0.4, color="tab:blue")
    ax.set_yticks(range(1, len(rows) + 1), [c["name"] for c in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("settling time (µs of circuit time)")
    ax.set_title("Per-sample settling times")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


FIGURES = {
    "error_per_device.png": error_per_device,
    "cost_against_n.png": cost_against_n,
    "settling_times.png": settling_times,
}


def render_figures(result: dict[str, Any], folder: str | Path) -> dict[Path, bytes]:
    """PNG bytes per file name for every figure this result has data for."""
    out = {}
    for name, make in FIGURES.items():
        png = make(result["cases"])
        if png is not None:
            out[Path(folder) / name] = png
    return out
