"""What the figures show, read back from the matplotlib objects before they are saved."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def closed_figures(monkeypatch):
    """Every figure the code closes after saving it, in order."""
    figures = []
    real_close = plt.close

    def keep(fig=None):
        figures.append(fig)
        real_close(fig)

    monkeypatch.setattr(plt, "close", keep)
    return figures


def _visible_ticks(ax) -> list[float]:
    lo, hi = sorted(ax.get_xlim())
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def test_learning_curves_have_whole_epoch_ticks(closed_figures):
    from neurodecorr.learning.plot import history_figure_png

    history = [{"epoch": e, "train_acc": 0.1 * e, "test_acc": 0.09 * e} for e in (1, 2, 3)]
    history_figure_png(history, "t")
    ticks = _visible_ticks(closed_figures[-1].axes[0])
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_bench_cost_axis_labels_only_the_measured_sizes(closed_figures):
    from neurodecorr.bench.plots import cost_against_n

    ns = [128, 256, 512, 1024, 2048]
    cost_against_n([{"kind": "scaling", "name": "s", "ns": ns, "cost_exponent": 2.0,
                     "seconds_per_sample": [1e-6 * (n / 128) ** 2 for n in ns]}])
    ax = closed_figures[-1].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(n) for n in ns]
    assert all(t.get_text() == "" for t in ax.xaxis.get_minorticklabels())


def test_every_settle_case_has_its_own_row_of_settling_times(closed_figures):
    from neurodecorr.bench.plots import settling_times

    rng = np.random.default_rng(0)
    cases = [{"name": f"case-{i}", "settling_times_s": list(8e-6 + 1e-7 * rng.random(20))}
             for i in range(7)]  # seven cases that settle alike
    settling_times(cases)
    ax = closed_figures[-1].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [c["name"] for c in cases]


def test_sweep_plot_draws_categories_without_joining_lines(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    import neurodecorr.sweep.plot as sweep_plot

    made = []

    class Recording(Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sweep_plot, "Figure", Recording)
    rows = [{"status": "ok", "device": d, "seed": str(s), "err": str(v)}
            for d, v in (("ideal", 0.0), ("pcm", 0.4)) for s in (1, 2)]
    sweep_plot.plot_metric(rows, ["device", "seed", "err"], "device", "err",
                           tmp_path / "p.png", group="seed")
    lines = [c.lines[0] for c in made[-1].axes[0].containers]  # each errorbar's data line
    assert len(lines) == 2 and all(ln.get_linestyle() == "None" for ln in lines)
    # the two seeds sit side by side within each category, not on top of each other
    xs = np.array([ln.get_xdata() for ln in lines], dtype=float)
    assert np.all(xs[0] != xs[1]) and np.all(np.abs(xs - np.round(xs)) < 0.5)
    numeric = [{**r, "n": str(n)} for r, n in zip(rows, (8, 16, 8, 16), strict=True)]
    sweep_plot.plot_metric(numeric, ["device", "seed", "err", "n"], "n", "err",
                           tmp_path / "q.png", group="seed")
    assert all(c.lines[0].get_linestyle() == "-" for c in made[-1].axes[0].containers)
