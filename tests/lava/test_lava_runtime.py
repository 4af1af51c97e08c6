"""The Lava runtime always ends: signals, time limits and dead parents, on real processes.

Each test starts ``neurodecorr lava-run`` as a real subprocess on a run far longer than the
test (a float loihi-mapping bundle, 1000 samples of ~250 Lava steps each), waits until Lava's
processes exist, does something to it, and then checks that the command ended as promised and
that none of the processes it started (found by walking /proc) is still alive, and that none of
the shared-memory segments those processes had mapped still exists (only this run's segments
are looked at, so tests may run side by side). Every wait is bounded and none depends on how
fast the machine is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurodecorr.cli import main
from neurodecorr.lava import processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
REPO = Path(__file__).resolve().parents[2]
#: the worker, Lava's runtime service, its shared-memory manager and 12 process models
MIN_PROCESSES = 8


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running or stopped (a zombie has exited: it only waits for its parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def bundle(trained, tmp_path_factory):  # noqa: F811
    _, ckpt = trained
    out = tmp_path_factory.mktemp("runtime") / "float_loihi"
    assert main(["export-lava", str(ckpt), "--out", str(out), "--dataset", "mnist1d"]) == 0
    return out


def start_run(bundle: Path, *extra: str) -> tuple[subprocess.Popen, set[int]]:
    """Start lava-run; return it once Lava's processes exist, with their pids (and the
    shared-memory segments they map, in ``SEGMENTS[proc.pid]``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "neurodecorr", "lava-run", str(bundle),
                             "--dataset", "mnist1d", "--samples", "1000", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: set[int] = set()

    def started() -> bool:
        seen.update(descendants(proc.pid))
        assert proc.poll() is None, proc.communicate()
        return len(seen) >= MIN_PROCESSES

    wait_until(started, 180, "Lava's processes to start")
    time.sleep(0.5)
    seen.update(descendants(proc.pid))
    SEGMENTS[proc.pid] = processes.mapped_segments(seen)
    assert SEGMENTS[proc.pid], "Lava's channels are shared-memory segments"
    return proc, seen


SEGMENTS: dict[int, set[str]] = {}


def finish(proc: subprocess.Popen, seen: set[int]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        for pid in {proc.pid, *seen}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        raise
    wait_until(lambda: not any(alive(p) for p in seen), 30, "every Lava process to end")
    left = {s for s in SEGMENTS.pop(proc.pid) if Path(processes.SHM_DIR, s).exists()}
    assert not left, f"shared memory left behind: {sorted(left)}"
    return proc.returncode, err


@pytest.mark.parametrize("sig, status, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "aborted")])
def test_one_signal_stops_lava_cleanly(bundle, sig, status, word):
    proc, seen = start_run(bundle)
    proc.send_signal(sig)
    rc, err = finish(proc, seen)
    assert rc == status, err
    assert f"neurodecorr: {word}" in err and "Traceback" not in err


def test_second_ctrl_c_kills_at_once(bundle):
    proc, seen = start_run(bundle)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    rc, err = finish(proc, seen)
    assert rc == 130, err
    assert "Traceback" not in err


def test_lava_processes_die_with_a_killed_parent(bundle):
    proc, seen = start_run(bundle)
    proc.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal must do it
    proc.wait(timeout=30)
    wait_until(lambda: not any(alive(p) for p in seen), 30, "every Lava process to end")


def test_a_stopped_lava_process_ends_the_run(bundle):
    """Stopped Lava processes stall every step; the worker's own watchdog ends the run."""
    proc, seen = start_run(bundle, "--chunk-timeout", "5")
    worker = min(descendants(proc.pid))
    for pid in descendants(worker):
        os.kill(pid, signal.SIGSTOP)
    rc, err = finish(proc, seen)
    assert rc == 2, err
    assert "is stopped (SIGSTOP)" in err
    assert err.count("\n") == 1


def test_a_hung_worker_hits_the_time_limit(bundle):
    """The worker itself stopped: nothing reports, the supervisor kills the process group after
    --chunk-timeout plus its slack, and unlinks the group's shared memory (its resource
    tracker, killed with it, cannot)."""
    from neurodecorr.lava.supervisor import WORKER_SLACK_S

    proc, seen = start_run(bundle, "--chunk-timeout", "2")
    os.kill(min(descendants(proc.pid)), signal.SIGSTOP)
    rc, err = finish(proc, seen)
    assert rc == 2, err
    assert f"did not report within {2 + WORKER_SLACK_S:g} s" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--samples", "0"], "--samples"),
    (["--chunk-timeout", "nan"], "--chunk-timeout"),
    (["--chunk-timeout", "-1"], "--chunk-timeout"),
    (["--dataset", "cifar10"], "cifar10"),
])
def test_parameters_are_checked_before_any_process_starts(bundle, capsys, args, message):
    before = descendants(os.getpid())
    argv = ["lava-run", str(bundle), "--dataset", "mnist1d", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert descendants(os.getpid()) == before


#: a job whose worker hangs as it exits, after it has sent its result: an ``atexit`` handler
#: that never returns (as multiprocessing's, joining a stopped child, would)
HANGING_EXIT_JOB = """
import atexit, os, threading

def job(progress):
    progress(1)
    atexit.register(threading.Event().wait)
    return os.getpid()
"""
SUPERVISED_PROGRAM = """
import sys
from neurodecorr.lava.supervisor import run_supervised
print(run_supervised("hanging_exit_job.job", {}, chunk_timeout_s=1.0))
"""


def test_a_worker_that_hangs_in_its_exit_does_not_hang_the_supervisor(tmp_path):
    """The result has arrived; the supervisor waits a bounded time for the worker to exit, then
    kills its group and returns the result."""
    (tmp_path / "hanging_exit_job.py").write_text(HANGING_EXIT_JOB)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISED_PROGRAM], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        kids = descendants(proc.pid)
        processes.kill({proc.pid, *kids})
        proc.wait()
        raise AssertionError("the supervisor waited for ever on the worker's exit") from None
    assert proc.returncode == 0, err
    worker = int(out.split()[-1])
    assert not alive(worker)
