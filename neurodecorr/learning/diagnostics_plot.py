"""The diagnostics of a run against epochs: one panel per quantity, one line per layer."""

from __future__ import annotations

import io

from neurodecorr.learning.plot import _pyplot

PANELS = (("cos_bp", "cos(update, BP gradient)"),
          ("natural_alignment", "alignment with natural gradient"),
          ("invariant_drift", "FA invariant drift (relative)"))


def diagnostics_figure_png(history: list[dict], title: str = "") -> bytes:
    """PNG of every diagnostic in ``history[*]["diagnostics"]`` against epochs."""
    plt = _pyplot()
    present = [(key, label) for key, label in PANELS
               if any(key in d for row in history for d in row.get("diagnostics", []))]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.6), dpi=120,
                             squeeze=False)
    n_layers = max(len(row.get("diagnostics", [])) for row in history)
    for ax, (key, label) in zip(axes[0], present, strict=True):
        for layer in range(n_layers):
            points = [(row["epoch"], row["diagnostics"][layer][key]) for row in history
                      if key in row["diagnostics"][layer]]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=f"layer {layer}")
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
