"""A warm interpreter that runs sweep points, forking one fresh process per point.

Starting ``python -m neurodecorr`` for every point costs the interpreter start and the imports
(numpy, scipy, numba, the command's own modules): about a second on an idle machine, and far
more on a loaded one, against milliseconds of work for a small settle. Each worker thread
therefore starts one server with the commands' modules imported (their names are data from the
caller, :func:`neurodecorr.sweep.targets.target_modules`), and the server forks a process per
point from that warm state.

A point still runs in a process of its own, so the isolation of :mod:`.point` holds: a crash,
an out-of-memory kill or a hang ends that point only (a timeout kills the forked process), and
nothing one point changes in process-wide state reaches the next. The server is single-threaded
(it only reads requests and waits for its children), which is what makes ``fork`` safe there.

Protocol, one JSON object per line: the client sends ``{"argv", "cwd", "stderr"}``; the server
answers ``{"pid"}`` at once and ``{"returncode"}`` (negative: killed by that signal) when the
point's process has ended. Its stdout and stdin are the client's pipes; the point's stdout goes
to ``/dev/null`` and its stderr to the file ``stderr``.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
import traceback


def _child(request: dict) -> None:
    """Run one command in the forked process and leave with its exit status; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDWR)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        # exactly `python -m neurodecorr ARGV` (which ends in sys.exit), without the CLI being
        # imported by the library
        sys.argv = ["neurodecorr", *request["argv"]]
        runpy.run_module("neurodecorr", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what an uncaught exception does to `python -m neurodecorr`
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _warm_up() -> None:
    """Load the simulator's numba kernels once, so that no fork loads them again.

    The first settle in a process spends about 0.3 s loading its compiled kernels from numba's
    cache; a forked point inherits them loaded. Only an optimisation: whatever fails here, the
    point loads the kernels itself.
    """
    try:
        import numpy as np

        from neurodecorr.circuits import DeviceReader, LateralField, settle
        from neurodecorr.devices import load_device

        A, X = 2.0 * np.eye(4), np.ones((2, 4))
        for method in ("euler", "rk4"):
            settle(A, X, method)
        reader = DeviceReader(load_device("pcm"), A, np.random.default_rng(0))
        settle(LateralField(A, reader=reader), X, "euler")
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def serve(preload: list[str] | tuple[str, ...] = ()) -> None:
    """The server's loop: import the ``preload`` modules, then one forked child per request."""
    # Ctrl-C reaches the whole process group; the sweep stops the server by closing its stdin
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in preload:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional backend (Lava) that is not installed
            pass
    _warm_up()
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


class ServerLost(RuntimeError):
    """The server process ended (it is replaced at the next point)."""


class ForkServer:
    """The client side: start a server, run points on it one at a time.

    Parameters
    ----------
    preload : sequence of str
        Modules the server imports before its first fork (the commands the points run).
    """

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from neurodecorr.sweep.forkserver import serve; serve(sys.argv[1:])",
             *preload], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._buffer = b""

    def _send(self, obj: dict) -> None:
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ServerLost(f"the point server is gone ({exc})") from None

    def _receive(self, timeout_s: float | None) -> dict:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ServerLost(f"the point server exited (status {self.proc.wait()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def run(self, argv: list[str], cwd: str, stderr_path: str,
            timeout_s: float | None = None) -> int:
        """Run ``neurodecorr ARGV`` in a fresh fork; its exit status (negative: the signal).

        Raises
        ------
        TimeoutError
            After ``timeout_s``; the point's process has then been killed and reaped.
        ServerLost
            The server itself ended.
        """
        self._send({"argv": argv, "cwd": cwd, "stderr": stderr_path})
        pid = self._receive(None)["pid"]
        try:
            return self._receive(timeout_s)["returncode"]
        except TimeoutError:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._receive(None)  # the server reaps it and reports
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_servers = threading.local()
_all: list[ForkServer] = []


def run_command(argv: list[str], cwd: str, stderr_path: str,
                timeout_s: float | None = None, preload: tuple[str, ...] = ()) -> int:
    """Run ``neurodecorr ARGV`` on this thread's server (started on first use with ``preload``
    imported, and again after it was lost); see :meth:`ForkServer.run`."""
    server = getattr(_servers, "server", None)
    if server is None or server.proc.poll() is not None:
        server = _servers.server = ForkServer(preload)
        _all.append(server)
    try:
        return server.run(argv, cwd, stderr_path, timeout_s)
    except ServerLost:
        _servers.server = None
        raise


@atexit.register
def _close_all() -> None:
    for server in _all:
        server.close()

