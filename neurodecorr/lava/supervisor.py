"""Run Lava in a supervised worker process, so that a run always ends and leaves nothing behind.

Lava forks one OS process per Lava process and synchronises them step by step; when one of them
fails or is killed, the others (and the calling program) wait forever, and a signal that kills
the calling program leaves its children orphaned. :func:`run_supervised` therefore keeps Lava
out of the calling process altogether:

- the job runs in a **worker** started with ``subprocess`` in a new session (its own process
  group), so a terminal's Ctrl-C reaches only the supervisor, which decides what to do;
- the worker and every process Lava forks ask the kernel to kill them when their parent dies
  (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, Linux), so nothing outlives a killed supervisor;
- inside the worker, the Lava session supervises itself
  (:func:`neurodecorr.lava.runtime.lava_session`: a dead or stopped Lava process, or a chunk
  past ``chunk_timeout_s``, ends it with one line); the worker reports after each chunk of
  Lava steps (:data:`neurodecorr.lava.runtime.CHUNK_STEPS`), and if no report arrives within
  ``chunk_timeout_s`` plus :data:`WORKER_SLACK_S` (the worker itself hangs) the supervisor
  kills the whole process group and raises a one-line
  :class:`~neurodecorr.errors.NeurodecorrError`; a worker that has sent its last message but
  does not exit within the same limit is killed with its group too;
- the first SIGINT or SIGTERM asks the worker to stop at the end of its chunk (Lava's runtime
  is then stopped cleanly and its shared memory released); then the signal goes on to the
  handler that was installed before (``KeyboardInterrupt`` by default);
  a second signal, or a worker that has not stopped within ``chunk_timeout_s``, kills the
  process group (the worker and every Lava child, by their group id) at once.

Killing the group kills multiprocessing's resource tracker with it, which would have unlinked
the run's shared memory; so before killing, the supervisor reads which ``/dev/shm`` segments the
group's processes have mapped (segments this run created: the group holds only its own
processes), and unlinks those afterwards (:mod:`neurodecorr.lava.processes`).

The job, its arguments and its result travel over a private socket pair between two processes
of this program (``multiprocessing.connection``); no user file is ever unpickled.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import processes
from neurodecorr.lava.processes import die_with_parent

#: default seconds allowed between two reports of the worker (start-up, one chunk, stop)
CHUNK_TIMEOUT_S = 120.0
#: seconds the rest of the worker's process group may take to exit after the worker
GROUP_GRACE_S = 5.0
#: seconds the supervisor waits beyond the chunk limit, so that the worker's own watchdog
#: (same limit) ends a hung Lava run and reports why before the supervisor kills the worker
WORKER_SLACK_S = 10.0
#: how often the supervisor looks at signals and deadlines while it waits, seconds
POLL_S = 0.05


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's process group (the worker and every process Lava forked), then
    unlink the shared-memory segments its processes had mapped."""
    segments = processes.mapped_segments(processes.process_group(proc.pid))
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    processes.unlink_segments(segments, untrack=False)


def _end_group(proc: subprocess.Popen, grace_s: float) -> None:
    """After the worker has exited: give what is left of its group (Lava's helpers, such as
    multiprocessing's resource tracker, which releases shared memory) ``grace_s`` to exit, then
    kill it. The group id stays reserved by the kernel while any member is alive."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(POLL_S)
    _kill_group(proc)


def _await_exit(proc: subprocess.Popen, timeout_s: float) -> None:
    """Wait for a worker that has sent its last message to exit; kill its group if it does
    not within ``timeout_s`` (it can hang in its own exit, e.g. in an ``atexit`` handler that
    joins a stopped child): the result is already here, nothing is lost."""
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)


def _resolve(name: str) -> Callable:
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def run_supervised(job: str, kwargs: dict, *, chunk_timeout_s: float = CHUNK_TIMEOUT_S,
                   progress: Callable[[int], None] | None = None):
    """Run ``job(**kwargs, progress=...)`` in a supervised worker and return its result.

    Parameters
    ----------
    job : str
        Dotted name of a function that accepts ``progress`` (called with the number of Lava
        steps after every chunk), e.g. ``"neurodecorr.lava.graph.run_export"``.
    kwargs : dict
        Its other arguments (numpy arrays and plain data).
    chunk_timeout_s : float
        Longest time allowed between two reports of the worker; the whole run is killed when
        it passes.
    progress : callable, optional
        Called in this process with each chunk's step count.

    Raises
    ------
    NeurodecorrError
        The job raised one (its message is passed on), the worker died, or a chunk ran past
        ``chunk_timeout_s``.
    KeyboardInterrupt
        After SIGINT or SIGTERM, once the worker is gone.
    """
    if not chunk_timeout_s > 0 or chunk_timeout_s == float("inf"):
        raise NeurodecorrError(f"chunk time limit: must be a positive number of seconds, "
                               f"got {chunk_timeout_s}")
    ours, theirs = socket.socketpair()
    signals = []

    def on_signal(signum, frame):
        signals.append(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    proc = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from neurodecorr.lava.supervisor import worker_main; "
             "worker_main()", str(theirs.fileno()), str(os.getpid())],
            pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        conn = Connection(os.dup(ours.fileno()))
        ours.close()
        with conn:
            try:
                conn.send((job, kwargs))
            except OSError:
                raise _worker_died(proc, bool(signals)) from None
            try:
                return _supervise(proc, conn, chunk_timeout_s, progress, signals)
            except KeyboardInterrupt:
                # once Lava is gone, SIGTERM goes on to the handler it interrupted (the CLI's
                # raises its own exception for it, exit status 143)
                handler = previous.get(signals[0]) if signals else None
                if callable(handler):
                    handler(signals[0], None)
                raise
    finally:
        if proc is not None:
            if proc.poll() is None:
                _kill_group(proc)
            _end_group(proc, GROUP_GRACE_S)
        if in_main:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _supervise(proc: subprocess.Popen, conn: Connection, chunk_timeout_s: float,
               progress, signals: list):
    chunk_timeout_s = chunk_timeout_s + WORKER_SLACK_S
    deadline = time.monotonic() + chunk_timeout_s
    asked_to_stop = False
    while True:
        if signals and not asked_to_stop:
            asked_to_stop = True
            os.kill(proc.pid, signal.SIGINT)  # stop at the end of the chunk, cleanly
            deadline = time.monotonic() + chunk_timeout_s
        if len(signals) > 1:
            _kill_group(proc)
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            _kill_group(proc)
            if asked_to_stop:
                raise KeyboardInterrupt
            raise NeurodecorrError(f"the Lava worker did not report within "
                                   f"{chunk_timeout_s:g} s (it hangs); the run was stopped "
                                   "and its processes killed")
        try:
            ready = conn.poll(POLL_S)
        except OSError:
            ready = False
        if not ready:
            if proc.poll() is not None:
                raise _worker_died(proc, asked_to_stop)
            continue
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            _await_exit(proc, chunk_timeout_s)
            raise _worker_died(proc, asked_to_stop) from None
        deadline = time.monotonic() + chunk_timeout_s
        if kind == "progress":
            if progress is not None:
                progress(payload)
            continue
        _await_exit(proc, chunk_timeout_s)
        if kind == "result":
            return payload
        if kind == "interrupted":
            raise KeyboardInterrupt
        if kind == "error":
            raise NeurodecorrError(payload)
        raise NeurodecorrError(f"the Lava worker failed: {payload}")


def _worker_died(proc: subprocess.Popen, asked_to_stop: bool) -> BaseException:
    if asked_to_stop:
        return KeyboardInterrupt()
    rc = proc.wait()
    cause = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
    return NeurodecorrError(f"the Lava worker died ({cause}) before finishing the run")


def worker_main() -> None:
    """Entry point of the worker (``argv``: socket fd, supervisor pid); see the module doc."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent()
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)
    # every process that Lava forks dies with this worker too
    os.register_at_fork(after_in_child=die_with_parent)
    conn = Connection(fd)
    job, kwargs = conn.recv()
    try:
        result = _resolve(job)(**kwargs, progress=lambda n: conn.send(("progress", n)))
        message = ("result", result)
    except KeyboardInterrupt:
        message = ("interrupted", None)
    except NeurodecorrError as exc:
        message = ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which raises
        lines = traceback.format_exception_only(type(exc), exc)
        message = ("crash", lines[-1].strip())
    try:
        conn.send(message)
    except OSError:
        pass
    conn.close()
