"""A figure of a settle's transient: the states x̄(t) and the relative residual r(t)."""

from __future__ import annotations

import io
import textwrap

import numpy as np

from neurodecorr.errors import NeurodecorrError

#: states drawn at most (the first sample's first nodes), so that the figure stays readable
MAX_LINES = 12


def transient_png(result, title: str = "") -> bytes:
    """PNG bytes: top, x̄_i(t) of the first sample (up to :data:`MAX_LINES` nodes); bottom,
    every sample's residual ``‖x − (A + λI) x̄‖/‖x‖`` on a log axis with ``tol``."""
    if result.t_eval is None or len(result.t_eval) < 2:
        raise NeurodecorrError("plot: the settle kept fewer than two points of its trajectory")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t_us = np.asarray(result.t_eval) * 1e6
    y_eval = np.asarray(result.y_eval)
    states = y_eval.reshape(len(t_us), -1, y_eval.shape[-1])
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    shown = min(states.shape[2], MAX_LINES)
    top.plot(t_us, states[:, 0, :shown], linewidth=1.0)
    top.set_ylabel("x̄ᵢ(t), sample 0" + (f" (first {shown} nodes)" if shown < states.shape[2]
                                          else ""))
    residual = np.maximum(np.asarray(result.residual_eval), np.finfo(float).tiny)
    bottom.semilogy(t_us, residual, color="tab:blue", alpha=max(0.05, 1.0 / residual.shape[1]),
                    linewidth=1.0)
    bottom.semilogy(t_us, residual.max(axis=1), color="black", linewidth=1.5,
                    label="largest over the batch")
    bottom.axhline(result.tol, color="tab:red", linestyle="--", label=f"tol = {result.tol:.3g}")
    bottom.set_xlabel("circuit time t (µs)")
    bottom.set_ylabel("relative residual ‖x − A x̄‖ / ‖x‖")
    # the residual starts at the top left and stays high or falls: the lower left is free
    bottom.legend(loc="lower left")
    top.set_title(textwrap.fill(title or f"settle ({result.method}): {result.message}", 90),
                  fontsize=9)
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()
