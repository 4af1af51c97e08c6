"""A batch settled in blocks of samples on worker threads, meeting once per residual check.

The samples of a batch settle independently (row ``b`` of ``Y Aᵀ`` needs only sample ``b``'s
state), so the batch can be cut into blocks that each step on their own thread: numpy's matrix
product and the numba kernels release the GIL, and each block runs one single-threaded BLAS
product per step. The steps between two residual checks are queued and run in one go per
block, so the threads meet once per check (every ``check_every`` steps) instead of inside
every product as a multi-threaded BLAS does; on a machine shared with other work a thread
that is descheduled then delays one check, not every step.

Each block is an ordinary stepper on its own copy of its samples; after every check the
blocks' states are copied back into the batch, and the monitor sees the whole batch's
residuals, so the settle stops at the same check as an undivided one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neurodecorr.ode.solvers.base import Stepper

#: a block has at least this many samples (smaller ones cost more in hand-offs than they gain)
MIN_BLOCK = 32

_pool: ThreadPoolExecutor | None = None


def _workers(size: int) -> ThreadPoolExecutor:
    """The shared pool of helper threads, grown to ``size`` when needed."""
    global _pool
    if _pool is None or _pool._max_workers < size:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="neurodecorr-settle")
    return _pool


class BlockStepper(Stepper):
    """Runs ``make(X_block, Y_block)`` steppers on ``blocks`` contiguous blocks of the batch.

    Steps are queued by :meth:`advance` and run when the loop measures (or when a trajectory
    needs the states after every step); the caller's loop ends only after a measurement, so
    ``Y`` always holds the last state when it is read.
    """

    def __init__(self, make: Callable[[np.ndarray, np.ndarray], Stepper], X: np.ndarray,
                 Y: np.ndarray, blocks: int) -> None:
        super().__init__(Y)
        bounds = np.linspace(0, Y.shape[0], blocks + 1).astype(int).tolist()
        self.slices = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        self.blocks = [make(np.ascontiguousarray(X[s]), np.array(Y[s])) for s in self.slices]
        self.rsq = np.empty(Y.shape[0])
        self.pending: list[tuple[float, float]] = []

    @staticmethod
    def _run(block: Stepper, steps: list, t_measure: float | None) -> np.ndarray | None:
        if steps:
            ts, hs = zip(*steps, strict=True)
            block.run(ts, hs)
        return None if t_measure is None else block.measure(t_measure)

    def _flush(self, t_measure: float | None = None) -> None:
        steps, self.pending = self.pending, []
        if not steps and t_measure is None:
            return
        pool = _workers(len(self.blocks) - 1)
        futures = [pool.submit(self._run, block, steps, t_measure) for block in self.blocks[1:]]
        results = [self._run(self.blocks[0], steps, t_measure)]
        results += [future.result() for future in futures]
        for s, block, rsq in zip(self.slices, self.blocks, results, strict=True):
            self.Y[s] = block.Y
            if rsq is not None:
                self.rsq[s] = rsq
        self.nfev = self.blocks[0].nfev

    def measure(self, t: float) -> np.ndarray:
        self._flush(t)
        return self.rsq

    def advance(self, t: float, h: float) -> None:
        self.pending.append((t, h))
        if self.previous is not None:  # a trajectory reads the states after every step
            self._flush()

    def run(self, ts, hs):
        if self.previous is not None:
            return super().run(ts, hs)
        self.pending.extend(zip(ts, hs, strict=True))
        return len(ts)

    def finish(self, t: float) -> None:
        self._flush()
        for s, block in zip(self.slices, self.blocks, strict=True):
            block.finish(t)
            self.Y[s] = block.Y
