"""``chip_overhead``: what training on the simulated chip costs against the software network.

The ratio is measured inside one run, as every speed figure of the bench: the software network
trained by SGD (:class:`~neurodecorr.learning.chip_trainer.SGDTrainer`) and the same network
(same sizes, rule, batch, initial weights and data order) trained on the chip
(:class:`~neurodecorr.learning.chip_trainer.ChipTrainer`: reads through the devices and
converters, writes by pulse trains) each run ``batches`` training steps
(:meth:`~neurodecorr.learning.trainer.Trainer.train_batch`), in alternation, ``repeats`` times;

    chip_overhead = median(chip time) / median(software time)
                  = software samples/s ÷ chip samples/s.

Both sides run a warm-up block first, so numba's compilation (or loading its cache) is not
timed. The clock is this process's CPU time by default (``time.process_time``): the work is
single-threaded (the bench caps BLAS at one thread; set ``NUMBA_NUM_THREADS=1`` and
``OPENBLAS_NUM_THREADS=1`` for a script), and CPU time does not count the time other processes
take the core away, which wall time on a shared machine does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def interleaved_medians(fns: list[Callable[[], object]], repeats: int,
                        clock: Callable[[], float] = time.process_time) -> list[float]:
    """Median time of each function, the functions called in turn ``repeats`` times after one
    warm-up call each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = clock()
            fn()
            times[k].append(clock() - start)
    return [float(np.median(t)) for t in times]


def chip_overhead(device: str = "reram", hidden: tuple[int, ...] = (64, 64), batch: int = 64,
                  algorithm: str = "bp", lr: float = 0.1, update: str = "sgd", batches: int = 10,
                  repeats: int = 5, seed: int = 0, dataset: str = "mnist1d",
                  clock: str = "cpu", decorrelation: str = "none") -> dict:
    """Training steps per second of the software network ÷ those of the chip (module docstring).

    ``decorrelation = "ahmad"`` adds decorrelation to both sides: the software network's
    decorrelator and the chip's lateral circuits, settled and learned on the chip. Returns
    ``chip_overhead`` with both sides' samples per second and what was measured.
    """
    from neurodecorr.data import load_dataset
    from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer, SGDTrainer
    from neurodecorr.learning.config import TrainConfig

    data = load_dataset(dataset)
    config = TrainConfig(dataset=dataset, algorithm=algorithm, hidden=tuple(hidden),
                         batch_size=batch, lr=lr, epochs=1, seed=seed,
                         decorrelation=decorrelation)
    software = SGDTrainer(config, data)
    chip = ChipTrainer(config, data, ChipOptions(device=device, lr=lr, seed=seed,
                                                 update=update))
    order = np.random.default_rng(seed).permutation(len(data.x_train))

    def steps(trainer) -> Callable[[], None]:
        position = [0]

        def run() -> None:
            for _ in range(batches):
                start = position[0] % max(len(order) - batch, 1)
                idx = order[start:start + batch]
                trainer.train_batch(data.x_train[idx], data.y_train[idx])
                position[0] += batch
        return run

    t_soft, t_chip = interleaved_medians([steps(software), steps(chip)], repeats, CLOCKS[clock])
    samples = batches * batch
    return {"chip_overhead": t_chip / t_soft, "chip_samples_per_s": samples / t_chip,
            "software_samples_per_s": samples / t_soft, "device": device,
            "sizes": [data.n_features, *hidden, data.n_classes], "batch": batch,
            "algorithm": algorithm, "update": update, "decorrelation": decorrelation,
            "timed_batches": batches,
            "repeats": repeats, "clock": clock}
