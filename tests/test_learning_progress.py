"""Time to a fraction of the peak train accuracy, against histories worked out by hand."""

from __future__ import annotations

import pytest

from neurodecorr.learning.progress import add_cumulative_seconds, time_to_fraction_of_peak


def _history(accuracies, seconds):
    rows = [{"epoch": e + 1, "train_acc": a} for e, a in enumerate(accuracies)]
    add_cumulative_seconds(rows, seconds)
    return rows


def test_levels_are_fractions_of_the_runs_own_peak_and_seconds_accumulate():
    h = _history([0.2, 0.45, 0.7, 0.8, 0.79], [1.0, 2.0, 0.5, 0.25, 4.0])
    assert [row["train_s"] for row in h] == [1.0, 3.0, 3.5, 3.75, 7.75]
    # peak 0.8: 50 % -> 0.40 first met in epoch 2; 90 % -> 0.72 in epoch 4; 99 % -> 0.792 in 4
    assert time_to_fraction_of_peak(h, 0.5) == (2, 3.0)
    assert time_to_fraction_of_peak(h, 0.9) == (4, 3.75)
    assert time_to_fraction_of_peak(h, 0.99) == (4, 3.75)
    assert time_to_fraction_of_peak(h, 0.3) == (2, 3.0)  # 0.24 > 0.2
    assert time_to_fraction_of_peak(h, 0.24) == (1, 1.0)  # 0.192 <= 0.2


def test_empty_history_and_rows_without_seconds():
    assert time_to_fraction_of_peak([], 0.5) == (None, None)
    rows = [{"epoch": 1, "train_acc": 0.5}]
    assert time_to_fraction_of_peak(rows, 1.0) == (1, None)
    with pytest.raises(ValueError):
        add_cumulative_seconds(rows, [1.0, 2.0])  # one time per row
