"""Running Lava safely: chunked runs, Ctrl-C, and a runtime that is always stopped.

Every Lava process is an OS process forked at the first ``run``. :func:`lava_session` makes sure
none outlives the command: the runtime is stopped on success, on errors and on Ctrl-C, and any
child that Lava forked and that is still alive after ``stop`` is terminated by its pid.

While Lava runs, SIGINT and SIGTERM only set a flag (Lava's forked children inherit that
handler, so they are not killed mid-handshake, which would deadlock ``stop``); the run goes on in
chunks, and the flag is checked between chunks: the signal then stops the runtime and raises
``KeyboardInterrupt``. A chunk that never ends (a failed or killed Lava child) cannot be
interrupted from inside this process: :mod:`neurodecorr.lava.supervisor` runs sessions in a
worker process that it can kill.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from neurodecorr.lava.compat import import_lava

#: Lava steps per chunk; small enough that Ctrl-C is answered within a fraction of a second
CHUNK_STEPS = 256
#: seconds to wait for a forked Lava child to exit after ``stop`` before terminating it
JOIN_TIMEOUT_S = 5.0


class LavaSession:
    """Runs one compiled Lava network in chunks; see :func:`lava_session`."""

    def __init__(self, root, run_cfg, interrupted: threading.Event) -> None:
        self.root = root
        self.run_cfg = run_cfg
        self.interrupted = interrupted
        self.steps = 0
        self.wall_s = 0.0

    def run(self, num_steps: int, progress: Callable[[int], None] | None = None) -> None:
        """Advance ``num_steps`` Lava steps; raise ``KeyboardInterrupt`` after Ctrl-C."""
        from lava.magma.core.run_conditions import RunSteps

        done = 0
        while done < num_steps:
            if self.interrupted.is_set():
                raise KeyboardInterrupt
            n = min(CHUNK_STEPS, num_steps - done)
            t0 = time.perf_counter()
            self.root.run(condition=RunSteps(num_steps=n), run_cfg=self.run_cfg)
            self.wall_s += time.perf_counter() - t0
            done += n
            self.steps += n
            if progress is not None:
                progress(n)
        if self.interrupted.is_set():
            raise KeyboardInterrupt


def _stop(root, before: set[int]) -> None:
    try:
        root.stop()
    finally:
        for child in multiprocessing.active_children():
            if child.pid not in before:
                child.join(JOIN_TIMEOUT_S)
                if child.is_alive():
                    child.terminate()
                    child.join(JOIN_TIMEOUT_S)


@contextmanager
def lava_session(root, tag: str, models: dict) -> Iterator[LavaSession]:
    """Context manager that yields a :class:`LavaSession` and always stops the runtime.

    Parameters
    ----------
    root : AbstractProcess
        Any process of the network (Lava compiles everything connected to it).
    tag : str
        ``floating_pt`` or ``fixed_pt``.
    models : dict
        Process class -> model class, pinned in the run configuration.
    """
    import_lava()
    from lava.magma.core.run_configs import Loihi2SimCfg

    run_cfg = Loihi2SimCfg(select_tag=tag, exception_proc_model_map=models)
    interrupted = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: interrupted.set())
    before = {c.pid for c in multiprocessing.active_children()}
    try:
        yield LavaSession(root, run_cfg, interrupted)
    finally:
        try:
            _stop(root, before)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
