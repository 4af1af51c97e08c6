"""The figure of a :class:`~neurodecorr.spice.check.SpiceCheck`: both transients and their
difference."""

from __future__ import annotations

import io

import numpy as np


def plot_check(check, title: str = "") -> bytes:
    """PNG bytes: x̄_i(t) from ngspice (solid) and the ODE (dashed) per node, and below the
    difference ngspice − ODE as a fraction of the state's range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_us = check.t_s * 1e6
    span = float(np.max(check.xbar_ode) - np.min(check.xbar_ode)) or 1.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.0), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    colours = plt.get_cmap("tab10")
    for i in range(check.circuit.n):
        colour = colours(i % 10)
        top.plot(check.t_spice_s * 1e6, check.xbar_spice_native[:, i], color=colour, lw=1.6,
                 label="ngspice (one colour per node)" if i == 0 else None)
        top.plot(t_us, check.xbar_ode[:, i], color="black", lw=0.9, ls="--",
                 label="ODE (finite-gain corrected)" if i == 0 else None)
        bottom.plot(t_us, (check.xbar_spice[:, i] - check.xbar_ode[:, i]) / span, color=colour,
                    lw=1.0)
    rail = check.circuit.rail
    if rail is not None:
        for r in (rail, -rail):
            top.axhline(r, color="grey", lw=0.8, ls=":")
    top.set_ylabel("state x̄_i")
    top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title or f"{check.circuit.n} nodes: transient error "
                 f"{check.transient_error:.2g} of the range, settled error "
                 f"{check.settled_error:.2g}", fontsize=10)
    bottom.set_ylabel("(ngspice − ODE) / range")
    bottom.set_xlabel("time (µs)")
    bottom.axhline(0.0, color="grey", lw=0.6)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()
