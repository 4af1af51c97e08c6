"""Learning curves: one run's accuracies, and seeds summarised as mean with min–max envelope."""

from __future__ import annotations

import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_figure_png(history: list[dict], title: str = "") -> bytes:
    """PNG of train and test accuracy against epochs for one run."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=120)
    ax.plot(epochs, [100 * row["train_acc"] for row in history], label="train")
    ax.plot(epochs, [100 * row["test_acc"] for row in history], label="test")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)  # no epoch 1.5
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def envelope_figure_png(panels: dict[str, dict[str, list[list[dict]]]],
                        rows: tuple[tuple[str, ...], ...] = (("train_acc", "train accuracy (%)"),
                                                             ("test_acc", "test accuracy (%)"))
                        ) -> bytes:
    """PNG in the style of Ahmad 2024, Fig. 4: per rule a column, per metric a row; each variant
    drawn as the mean over seeds with a min–max band.

    ``panels[rule][variant]`` is a list of histories (one per seed) of equal length; ``rows``
    names the history keys drawn (as percentages) and their axis labels, ``(key, label)``
    against epochs or ``(key, label, x_key, x_label)`` against the seeds' mean of another key
    (e.g. cumulative training seconds).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(3.8 * len(panels), 3.2 * len(rows)),
                             dpi=120, squeeze=False)
    for c, (rule, variants) in enumerate(panels.items()):
        for r, (key, label, *x_axis) in enumerate(rows):
            x_key, x_label = x_axis if x_axis else ("epoch", "epoch")
            ax = axes[r][c]
            for variant, runs in variants.items():
                values = 100 * np.array([[row[key] for row in run] for run in runs])
                x = np.array([[row[x_key] for row in run] for run in runs]).mean(axis=0)
                line, = ax.plot(x, values.mean(axis=0), label=variant)
                ax.fill_between(x, values.min(axis=0), values.max(axis=0),
                                color=line.get_color(), alpha=0.25, linewidth=0)
            if r == 0:
                ax.set_title(rule)
            ax.set_xlabel(x_label)
            if x_key == "epoch":
                ax.xaxis.get_major_locator().set_params(integer=True)
            if c == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
