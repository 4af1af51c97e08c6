"""Running Lava safely: a time limit, a watchdog, Ctrl-C, and a runtime that always ends.

Every Lava process is an OS process forked at the first ``run``, and Lava synchronises them step
by step: when one of them dies or is stopped, the others and the calling program wait forever.
:func:`lava_session`, through which every Lava run of this package goes (the library's
:class:`~neurodecorr.lava.backend.LavaBackend`, on-chip learning, the benchmarks and the
``lava-run`` worker), therefore supervises the run from a watchdog thread of the calling
process:

- **time limit**: the run goes in chunks of at most :data:`CHUNK_STEPS` Lava steps; start-up,
  each chunk, every read after it and the final stop must each end within ``chunk_timeout_s``
  (default :data:`CHUNK_TIMEOUT_S`, or the environment variable :data:`TIMEOUT_ENV`), so the
  limit of a whole run grows with its number of steps;
- **a dead or stopped child**: the watchdog looks at the run's child processes every
  :data:`POLL_S` (``/proc``); one that has exited, or has stayed stopped (SIGSTOP) for
  :data:`STOPPED_GRACE_S`, ends the run at once;
- **signals**: the first SIGINT or SIGTERM stops the run cleanly at the end of its chunk (Lava's
  forked children ignore it, so they are not killed mid-handshake), then ``KeyboardInterrupt``
  (or the SIGTERM handler that was installed before, e.g. the CLI's) is raised; a second one,
  or a chunk that does not end within the limit after the first, ends the run at once;
- **children die with the parent**: every process forked during a session asks the kernel to
  SIGKILL it when the calling process exits (``PR_SET_PDEATHSIG``), so killing the program
  (even with SIGKILL) leaves no Lava process behind; multiprocessing's resource tracker, which
  is not forked but started with ``exec``, outlives it and unlinks its shared memory.

To end a run at once, the watchdog SIGKILLs the run's children by pid (never the resource
tracker, which belongs to the whole program), unlinks the shared-memory segments the run
created (:mod:`neurodecorr.lava.processes`), makes Lava's half-dead runtime inert, and wakes
the calling thread, blocked inside Lava, with a SIGINT aimed at it alone
(``pthread_kill``); the session then raises the reason: a one-line
:class:`~neurodecorr.errors.NeurodecorrError`, or ``KeyboardInterrupt`` after signals. This needs
the main thread (only it runs Python signal handlers): a session refuses any other.

The wake-up must not be lost, because Lava catches exceptions where it runs: its compiler, while
it searches for process models during start-up, turns *any* ``Exception`` raised while it
imports a module into a warning and carries on (``compiler_graphs.py``, ``except Exception:
warnings.warn("Cannot import module ...")``), and then forks the network as if nothing had
happened. So the handler raises :class:`_Abort`, a ``BaseException`` that such clauses do not
catch; and until the calling thread has left the session, the watchdog keeps killing any
process the run forks after the abort and, if a wake-up was taken but the thread is still
inside, sends another every :data:`RESEND_S`.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import processes
from neurodecorr.lava.compat import import_lava

#: Lava steps per chunk; small enough that Ctrl-C is answered within a fraction of a second
CHUNK_STEPS = 256
#: seconds to wait for a forked Lava child to exit after ``stop`` before terminating it
JOIN_TIMEOUT_S = 5.0
#: default seconds allowed for start-up, each chunk, each read and the stop of a run
CHUNK_TIMEOUT_S = 120.0
#: environment variable that sets the default chunk time limit, in seconds
TIMEOUT_ENV = "NEURODECORR_LAVA_CHUNK_TIMEOUT"
#: how often the watchdog looks at the run's processes, seconds
POLL_S = 0.1
#: how long a child may stay stopped before the run is ended, seconds
STOPPED_GRACE_S = 1.0
#: longest wait for the calling thread to take the watchdog's wake-up signal, seconds
WAKE_WAIT_S = 2.0
#: after a wake-up was taken, how long the calling thread may stay inside the run before the
#: watchdog wakes it again (the exception was swallowed on its way out), seconds
RESEND_S = 1.0


class _Abort(BaseException):
    """The watchdog's wake-up, raised in the calling thread; :func:`lava_session` replaces it
    with the failure. A ``BaseException``, so that Lava's ``except Exception`` clauses (which
    turn errors into warnings during start-up) let it through."""

# pid of the process running a session while it does: a process forked then dies with it
_session_parent: int | None = None


def _after_fork_in_child() -> None:
    global _session_parent
    parent, _session_parent = _session_parent, None  # its own children are not Lava's
    if parent is not None:
        processes.die_with_parent()
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)


os.register_at_fork(after_in_child=_after_fork_in_child)


def chunk_timeout(value: float | None = None) -> float:
    """The chunk time limit: ``value``, else ``$NEURODECORR_LAVA_CHUNK_TIMEOUT``, else
    :data:`CHUNK_TIMEOUT_S`; refused in one line unless a positive finite number."""
    where = "chunk time limit"
    if value is None:
        env = os.environ.get(TIMEOUT_ENV)
        if env is None:
            return CHUNK_TIMEOUT_S
        where = f"{TIMEOUT_ENV}={env!r}"
        try:
            value = float(env)
        except ValueError:
            raise NeurodecorrError(f"{where}: not a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not (math.isfinite(value) and value > 0):
        raise NeurodecorrError(f"{where}: must be a positive number of seconds, got {value!r}")
    return float(value)


class _Watchdog:
    """Watches one session's child processes and deadline; ends the run at once when needed."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.pid = os.getpid()
        self.main = threading.main_thread().ident
        self.before = processes.children(self.pid)
        self.segments_before = processes.mapped_segments([self.pid])
        self.signals: list[int] = []
        self.failure: BaseException | None = None
        self.phase = "start-up"
        self.deadline = time.monotonic() + limit_s
        self.stopping = False  # during the final stop children exit, as they should
        self.armed = True  # the calling thread is inside the session: the handler may raise
        self._sent = 0  # wake-ups sent by the watchdog
        self._taken = 0  # ... and taken by the handler
        self._taken_at = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._seen: set[int] = set()
        self._stopped_since: dict[int, float] = {}
        self.thread = threading.Thread(target=self._watch, name="lava-watchdog", daemon=True)

    def beat(self, phase: str) -> None:
        """Start a new time-limited phase (a chunk, the reads after it, the stop)."""
        self.phase = phase
        self.deadline = time.monotonic() + self.limit_s

    # --- in the calling (main) thread --------------------------------------------------------
    def on_signal(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a forked Lava child: its parent decides
            return
        if self.failure is not None:  # the watchdog's wake-up (or a signal after it)
            self._taken += 1
            self._taken_at = time.monotonic()
            if self.armed:
                raise _Abort  # again and again, should Lava swallow it (module docstring)
            return
        self.signals.append(signum)
        if len(self.signals) > 1 and self._abort(KeyboardInterrupt()) and self.armed:
            raise _Abort

    def close(self) -> None:
        """Stop watching; make sure every wake-up sent has been taken, not left pending, and
        that nothing the run forked after an abort is left alive."""
        self.armed = False
        self._done.set()
        if self.thread.is_alive():
            self.thread.join()
        t_end = time.monotonic() + WAKE_WAIT_S
        while self._taken < self._sent and time.monotonic() < t_end:
            time.sleep(0.001)  # pending signal handlers run between these calls
        if self.failure is not None:
            self._kill_run()  # forked between the watchdog's last look and now

    # --- in the watchdog thread --------------------------------------------------------------
    def _watch(self) -> None:
        while not self._done.wait(POLL_S):
            if self.failure is None:
                reason, while_running = self._check()
                if reason is not None and self._abort(reason, while_running):
                    self._wake()
                continue
            # aborted, and the calling thread has not left the session yet
            self._kill_run()
            if self._taken == self._sent and self._taken and \
                    time.monotonic() - self._taken_at > RESEND_S:
                self._wake()  # the last wake-up was taken, but swallowed on its way out

    def _wake(self) -> None:
        self._sent += 1
        signal.pthread_kill(self.main, signal.SIGINT)

    def _run_children(self) -> set[int]:
        return processes.children(self.pid) - self.before - {processes.tracker_pid()}

    def begin_stop(self) -> bool:
        """Enter the final stop unless the run has failed already: from here on a child that
        ends is the stop's doing, not a failure (decided under the lock that :meth:`_abort`
        takes, so a death seen just before cannot be blamed on the run)."""
        with self._lock:
            if self.failure is not None:
                return False
            self.stopping = True
        self.beat("stop")
        return True

    def _check(self) -> tuple[BaseException | None, bool]:
        """What went wrong, if anything, and whether it is a failure only while the run is
        running (a child that ended or was stopped), not during the final stop."""
        now = time.monotonic()
        if now > self.deadline:
            if self.signals:
                return KeyboardInterrupt(), False
            return NeurodecorrError(
                f"Lava did not finish its {self.phase} within {self.limit_s:g} s (a Lava "
                f"process hangs; raise the limit with {TIMEOUT_ENV} or --chunk-timeout); the "
                "run was stopped and its processes killed"), False
        if self.stopping:
            return None, False
        self._seen |= self._run_children()
        for pid in sorted(self._seen):
            st = processes.state(pid)
            if st is None or st in "ZX":
                return NeurodecorrError(f"a Lava process (pid {pid}) died during the "
                                        f"{self.phase}; the run was stopped and its processes "
                                        "killed"), True
            if st in "Tt":
                since = self._stopped_since.setdefault(pid, now)
                if now - since >= STOPPED_GRACE_S:
                    return NeurodecorrError(f"a Lava process (pid {pid}) is stopped (SIGSTOP) "
                                            f"during the {self.phase}; the run was stopped and "
                                            "its processes killed"), True
            else:
                self._stopped_since.pop(pid, None)
        return None, False

    def _abort(self, reason: BaseException, while_running: bool = False) -> bool:
        """Kill the run's children, unlink its segments; False if already done, or if
        ``reason`` counts only ``while_running`` and the final stop has begun since."""
        with self._lock:
            if self.failure is not None or (while_running and self.stopping):
                return False
            self.failure = reason
        self._kill_run()
        return True

    def _kill_run(self) -> None:
        """SIGKILL the run's children and unlink the segments they and this process mapped."""
        with self._lock:
            # only current children: a pid killed earlier may have been reaped and reused
            kids = self._run_children()
            self._seen |= kids
            # read before killing: the segments this process and the run's children map
            names = processes.mapped_segments([self.pid, *kids]) - self.segments_before
            processes.kill(kids)
            # created here (Lava builds every channel in the calling process): untrack them too
            processes.unlink_segments(names, untrack=True)


class LavaSession:
    """Runs one compiled Lava network in chunks; see :func:`lava_session`."""

    def __init__(self, root, run_cfg, watchdog: _Watchdog) -> None:
        self.root = root
        self.run_cfg = run_cfg
        self.watchdog = watchdog
        self.steps = 0
        self.wall_s = 0.0

    def run(self, num_steps: int, progress: Callable[[int], None] | None = None) -> None:
        """Advance ``num_steps`` Lava steps; raise ``KeyboardInterrupt`` after Ctrl-C."""
        from lava.magma.core.run_conditions import RunSteps

        done = 0
        while done < num_steps:
            if self.watchdog.signals:
                raise KeyboardInterrupt
            n = min(CHUNK_STEPS, num_steps - done)
            self.watchdog.beat("start-up and first chunk" if self.steps == 0 else
                               f"chunk of {n} steps")
            t0 = time.perf_counter()
            self.root.run(condition=RunSteps(num_steps=n), run_cfg=self.run_cfg)
            self.wall_s += time.perf_counter() - t0
            self.watchdog.beat("reads after a chunk")
            done += n
            self.steps += n
            if progress is not None:
                progress(n)
        if self.watchdog.signals:
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


def _discard(root) -> None:
    """Make a runtime whose processes were killed inert: Lava would otherwise wait for them
    forever in ``stop`` (which every process's ``__del__`` calls)."""
    runtime = getattr(root, "_runtime", None)
    if runtime is not None:
        runtime._is_started = runtime._is_running = False
        runtime.stop = lambda: None
        try:
            runtime.join()  # releases its ports' listener threads
        except Exception:  # noqa: BLE001 - best effort on a broken runtime
            pass
        try:
            runtime._messaging_infrastructure.smm._manager.shutdown()  # its server is dead
            runtime._messaging_infrastructure.smm._manager = None
        except Exception:  # noqa: BLE001
            pass
    multiprocessing.active_children()  # reaps the killed children


@contextmanager
def lava_session(root, tag: str, models: dict,
                 chunk_timeout_s: float | None = None) -> Iterator[LavaSession]:
    """Context manager that yields a :class:`LavaSession`, supervises it and always ends it.

    Parameters
    ----------
    root : AbstractProcess
        Any process of the network (Lava compiles everything connected to it).
    tag : str
        ``floating_pt`` or ``fixed_pt``.
    models : dict
        Process class -> model class, pinned in the run configuration.
    chunk_timeout_s : float, optional
        Longest start-up, chunk, read or stop (:func:`chunk_timeout`).

    Raises
    ------
    NeurodecorrError
        A Lava process died or was stopped, or a phase ran past the limit (the run's processes
        are killed and its shared memory unlinked first); or not called from the main thread.
    KeyboardInterrupt
        After SIGINT or SIGTERM (see the module docstring).
    """
    limit = chunk_timeout(chunk_timeout_s)
    if threading.current_thread() is not threading.main_thread():
        raise NeurodecorrError("a Lava run must be started from the main thread (it is "
                               "supervised with signals)")
    import_lava()
    from lava.magma.core.run_configs import Loihi2SimCfg

    global _session_parent
    run_cfg = Loihi2SimCfg(select_tag=tag, exception_proc_model_map=models)
    watchdog = _Watchdog(limit)
    previous = {sig: signal.signal(sig, watchdog.on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    _session_parent = os.getpid()
    watchdog.thread.start()
    try:
        try:
            yield LavaSession(root, run_cfg, watchdog)
        finally:
            if watchdog.begin_stop():
                _stop(root, watchdog.before)
    except BaseException as exc:
        watchdog.armed = False  # left the session: a late wake-up must not raise in here
        watchdog.close()
        failure = watchdog.failure
        if failure is not None:
            _discard(root)
        raised = exc if failure is None else failure  # in place of the wake-up (_Abort)
        if isinstance(raised, KeyboardInterrupt) and watchdog.signals:
            # SIGTERM goes on to the handler it interrupted (the CLI's raises its own exception)
            handler = previous.get(watchdog.signals[0])
            if callable(handler) and handler is not signal.default_int_handler:
                _restore(previous)
                handler(watchdog.signals[0], None)
        if raised is exc:
            raise
        raise raised from None
    else:
        # the failure's wake-up came too late to raise inside the run: the runtime's
        # processes are gone all the same
        watchdog.armed = False
        watchdog.close()
        if watchdog.failure is not None:
            _discard(root)
            raise watchdog.failure
    finally:
        watchdog.close()
        _session_parent = None
        _restore(previous)


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
