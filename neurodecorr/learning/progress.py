"""How fast a run learns: epochs and seconds until its train accuracy reaches a fraction of its
peak (50, 90 and 99 % by default), the figures reported beside epochs wherever results are.

Epochs alone flatter a rule whose epochs cost more (decorrelation adds products to every
batch); seconds alone depend on the machine. Both are given, from one history.
"""

from __future__ import annotations

#: fractions of the run's peak train accuracy whose first epoch and time are reported
LEVELS = (0.5, 0.9, 0.99)


def time_to_fraction_of_peak(history: list[dict], level: float, seconds_key: str = "train_s"
                             ) -> tuple[int | None, float | None]:
    """Epoch and cumulative seconds at which ``train_acc`` first reaches ``level × peak``.

    Parameters
    ----------
    history : list of dict
        One row per epoch with ``epoch``, ``train_acc`` and ``seconds_key`` (cumulative
        seconds of training up to the end of that epoch); rows without it give ``None`` seconds.
    level : float
        Fraction of the run's peak train accuracy, in (0, 1].

    Returns
    -------
    (epoch, seconds), or ``(None, None)`` for an empty history.
    """
    if not history:
        return None, None
    target = level * max(row["train_acc"] for row in history)
    for row in history:
        if row["train_acc"] >= target:
            seconds = row.get(seconds_key)
            return int(row["epoch"]), None if seconds is None else float(seconds)
    return None, None  # unreachable: the peak row reaches every level ≤ 1


def add_cumulative_seconds(history: list[dict], epoch_seconds: list[float],
                           key: str = "train_s") -> None:
    """Write the running sum of ``epoch_seconds`` into the rows of ``history`` under ``key``."""
    total = 0.0
    for row, s in zip(history, epoch_seconds, strict=True):
        total += s
        row[key] = total
