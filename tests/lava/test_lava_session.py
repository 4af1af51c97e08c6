"""Every Lava run ends: the library's in-process sessions, on real processes.

``LavaBackend.forward`` (like on-chip learning and the benchmarks) runs Lava inside the calling
program through :func:`neurodecorr.lava.runtime.lava_session`. Each test starts a small
program that runs a long forward pass (1000 samples through the 40-32-10 network, ~250 Lava
steps each), waits until Lava's processes exist, does something to one of them or to the
program, and checks: the program ends within a bounded time with the promised one-line error
or status, none of the processes it started is alive, and none of the shared-memory segments
its processes had mapped still exists (only this run's segments are looked at, so tests may run
side by side). Every wait is bounded and none depends on how fast the machine is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import processes
from neurodecorr.lava.runtime import TIMEOUT_ENV, chunk_timeout

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
REPO = Path(__file__).resolve().parents[2]
#: Lava's runtime service, its shared-memory manager and the network's process models
MIN_PROCESSES = 8
PROGRAM = """
import sys, time
from neurodecorr.core import Network
from neurodecorr.data import load_dataset
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.backend import LavaBackend
net = Network.load(sys.argv[1])
X = load_dataset("mnist1d").x_test[:int(sys.argv[2])]
try:
    LavaBackend("float", "loihi").forward(net, X)
except NeurodecorrError as exc:
    print("error:", exc, file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
print("done")
"""


def alive(pid: int) -> bool:
    return processes.state(pid) not in (None, "Z", "X")


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def lava_children(pid: int) -> set[int]:
    return processes.children(pid) - {p for p in processes.children(pid)
                                      if b"resource_tracker" in _cmdline(p)}


def _orphans(kids: set[int]) -> set[int]:
    """Children of the run's processes (a Lava child's own children, if any)."""
    return {c for k in kids for c in processes.children(k)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def start(net_path: Path, samples: int = 1000, env: dict | None = None):
    """Start the program; return it once Lava's processes exist, with their pids and the
    shared-memory segments the program has mapped."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, str(net_path), str(samples)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def started() -> bool:
        assert proc.poll() is None, proc.communicate()
        return len(lava_children(proc.pid)) >= MIN_PROCESSES

    wait_until(started, 180, "Lava's processes to start")
    time.sleep(0.5)
    kids = lava_children(proc.pid)
    segments = processes.mapped_segments([proc.pid, *kids])
    assert segments, "Lava's channels are shared-memory segments"
    return proc, kids, segments


def finish(proc, kids: set[int], segments: set[str], timeout: float = 60) -> tuple[int, str]:
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # orphaned Lava children would hold the pipes open: kill, wait, never read again
        processes.kill({proc.pid, *kids, *_orphans(kids)})
        proc.wait()
        raise AssertionError(f"the program did not end within {timeout} s") from None
    took = time.monotonic() - t0
    wait_until(lambda: not any(alive(p) for p in kids), 30, "every Lava process to end")
    left = {s for s in segments if Path(processes.SHM_DIR, s).exists()}
    assert not left, f"shared memory left behind: {sorted(left)}"
    err = err.replace("\r", "\n")
    return proc.returncode, err, took


@pytest.fixture(scope="module")
def net_path(trained):
    return trained[1]


def test_a_killed_lava_process_ends_the_run_with_one_line(net_path):
    proc, kids, segments = start(net_path)
    os.kill(max(kids), signal.SIGKILL)
    rc, err, took = finish(proc, kids, segments)
    assert rc == 2, err
    assert f"a Lava process (pid {max(kids)}) died" in err, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    assert took < 30


def test_a_stopped_lava_process_ends_the_run(net_path):
    proc, kids, segments = start(net_path)
    for pid in kids:
        os.kill(pid, signal.SIGSTOP)
    rc, err, _ = finish(proc, kids, segments)
    assert rc == 2, err
    assert "is stopped (SIGSTOP)" in err and "Traceback" not in err, err


def test_a_second_signal_ends_the_run_at_once(net_path):
    proc, kids, segments = start(net_path)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    rc, err, _ = finish(proc, kids, segments)
    assert rc == 130 and "interrupted" in err and "Traceback" not in err, err


def test_one_signal_stops_the_run_cleanly(net_path):
    proc, kids, segments = start(net_path)
    proc.send_signal(signal.SIGTERM)
    rc, err, _ = finish(proc, kids, segments)
    assert rc == 130 and "interrupted" in err and "Traceback" not in err, err


def test_lava_processes_die_with_a_killed_program(net_path):
    proc, kids, _ = start(net_path)
    proc.kill()  # no handler runs: the kernel's parent-death signal must end the children
    proc.wait(timeout=30)
    try:
        wait_until(lambda: not any(alive(p) for p in kids), 30, "every Lava process to end")
    finally:
        processes.kill(kids)  # on failure, leave no orphan behind


def test_the_time_limit_ends_a_run_that_takes_too_long(net_path):
    """A limit far below Lava's start-up (compiling and forking a dozen processes)."""
    env = {TIMEOUT_ENV: "0.05"}
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, str(net_path), "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO),
                                 "OPENBLAS_NUM_THREADS": "1", **env})
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        kids = processes.children(proc.pid)
        proc.kill()
        processes.kill(kids)  # leave no orphan behind
        raise
    assert proc.returncode == 2, err
    assert "did not finish its start-up and first chunk within 0.05 s" in err, err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_time_limit_is_refused_before_any_process_starts(monkeypatch, trained, value):
    from neurodecorr.lava.backend import LavaBackend

    monkeypatch.setenv(TIMEOUT_ENV, value)
    before = processes.children(os.getpid())
    with pytest.raises(NeurodecorrError, match=TIMEOUT_ENV):
        LavaBackend("float", "loihi").forward(trained[0], np.zeros((1, 40)))
    assert processes.children(os.getpid()) == before


def test_chunk_timeout_precedence(monkeypatch):
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert chunk_timeout() == 120.0
    monkeypatch.setenv(TIMEOUT_ENV, "7.5")
    assert chunk_timeout() == 7.5
    assert chunk_timeout(3) == 3.0
    with pytest.raises(NeurodecorrError, match="positive"):
        chunk_timeout(float("nan"))


#: A stand-in for Lava's start-up that swallows what is raised in it, as Lava's compiler does
#: (``except Exception: warnings.warn("Cannot import module ...")``), then forks a process and
#: waits on it forever, as Lava's runtime does. ``argv``: what the stand-in catches
#: (``Exception`` or ``BaseException``: the latter swallows even the first wake-up).
SWALLOWING_PROGRAM = """
import multiprocessing, sys, threading, time
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.runtime import lava_session
caught = {"Exception": Exception, "BaseException": BaseException}[sys.argv[1]]

def sleep_forever():
    time.sleep(3600)

class StartUp:
    def run(self, **kwargs):
        swallowed = 0
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:  # the compiler's import loop
            try:
                time.sleep(0.01)
            except caught:
                swallowed += 1
        child = multiprocessing.get_context("fork").Process(target=sleep_forever, daemon=True)
        child.start()
        print("forked", child.pid, "swallowed", swallowed, flush=True)
        threading.Event().wait()  # the runtime waits for its processes

    def stop(self):
        pass

try:
    with lava_session(StartUp(), "floating_pt", {}, chunk_timeout_s=0.2) as session:
        session.run(1)
except NeurodecorrError as exc:
    print("error:", exc, file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.parametrize("caught", ["Exception", "BaseException"])
def test_a_wake_up_swallowed_inside_lava_still_ends_the_run(caught):
    """The cause of a hang seen in CI: the time limit ran out while Lava's compiler, which
    turns any ``Exception`` into a warning, was importing modules. The wake-up must get
    through (``Exception``), or be sent again when it was swallowed all the same
    (``BaseException``); and a process forked after the abort must not survive it."""
    proc = subprocess.Popen([sys.executable, "-c", SWALLOWING_PROGRAM, caught],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kids = processes.children(proc.pid)
        proc.kill()
        processes.kill(kids)
        proc.wait()
        raise AssertionError("the session did not end: the wake-up was lost") from None
    assert proc.returncode == 2, err
    assert "did not finish its start-up and first chunk within 0.2 s" in err, err
    if caught == "Exception":
        assert "swallowed 0" in out or not out, out  # it was not swallowed
    else:
        forked = [int(w) for w in out.split()[1:2]]
        assert forked, out  # the stand-in swallowed the wake-up and forked
        wait_until(lambda: not alive(forked[0]), 30, "the process forked after the abort")


def test_a_child_that_ends_once_the_stop_has_begun_is_not_a_failure():
    """The race behind a rare exit 2 after Ctrl-C: the watchdog saw a Lava child end (the
    stop's own doing) just after the main thread began the final stop. A real child that has
    exited (a zombie) is a failure while the run runs, and ignored once ``begin_stop`` has
    been called, however late the watchdog's verdict arrives; a run that has failed already
    does not begin a stop."""
    from neurodecorr.lava.runtime import _Watchdog

    def dead_child() -> int:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        deadline = time.monotonic() + 30
        while processes.state(pid) not in ("Z", None) and time.monotonic() < deadline:
            time.sleep(0.01)
        return pid

    late = _Watchdog(60.0)
    pid = dead_child()
    reason, while_running = late._check()  # the verdict, reached before the stop began
    assert while_running and f"pid {pid}) died" in str(reason)
    assert late.begin_stop() and late.phase == "stop"
    assert not late._abort(reason, while_running) and late.failure is None
    os.waitpid(pid, 0)

    running = _Watchdog(60.0)
    pid = dead_child()
    reason, while_running = running._check()
    assert running._abort(reason, while_running) and running.failure is reason
    assert not running.begin_stop() and not running.stopping
    os.waitpid(pid, 0)
