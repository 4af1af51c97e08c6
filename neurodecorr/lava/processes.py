"""The operating-system side of a Lava run: its child processes and its shared memory.

Lava forks one OS process per Lava process and passes messages through POSIX shared-memory
segments (``/dev/shm/psm_*``, created by :mod:`multiprocessing.shared_memory`). When a run is
stopped by force, the processes must be killed by their pids and the segments unlinked by
name, or both outlive it. These helpers read what the kernel knows (Linux ``/proc``) instead
of Lava's own bookkeeping, which a failed run leaves half-built:

- :func:`die_with_parent` asks the kernel to SIGKILL a process when its parent exits
  (``prctl(PR_SET_PDEATHSIG)``, prctl(2));
- :func:`children` and :func:`state` list a process's children and read their state
  (``/proc/<pid>/task/<pid>/children``, ``/proc/<pid>/stat``, proc(5));
- :func:`mapped_segments` lists the shared-memory segments that processes have mapped
  (``/proc/<pid>/maps``): a segment mapped by a run's own processes was created by that run
  (they were forked or exec'd for it and attach only to its channels), so a run never
  touches another program's segments;
- :func:`unlink_segments` removes them (``shm_unlink``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterable

_PR_SET_PDEATHSIG = 1
#: where POSIX shared memory lives on Linux
SHM_DIR = "/dev/shm/"
_SEGMENT_PREFIX = "psm_"  # multiprocessing.shared_memory's names


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent thread exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def children(pid: int) -> set[int]:
    """The pids of the children that ``pid``'s main thread forked (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(c) for c in f.read().split()}
    except FileNotFoundError:
        if os.path.exists(f"/proc/{pid}"):  # a kernel without CONFIG_PROC_CHILDREN
            return {p for p in _all_pids() if _ppid(p) == pid}
        return set()
    except OSError:
        return set()


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # the name may hold spaces and brackets


def _ppid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def state(pid: int) -> str | None:
    """The process's state letter (``R``, ``S``, ``D``, ``T`` stopped, ``t`` traced, ``Z``
    zombie, ...), or None if it no longer exists."""
    fields = _stat(pid)
    return fields[0] if fields else None


def process_group(pgid: int) -> set[int]:
    """The pids whose process group is ``pgid``."""
    out = set()
    for pid in _all_pids():
        fields = _stat(pid)
        if fields and int(fields[2]) == pgid:
            out.add(pid)
    return out


def mapped_segments(pids: Iterable[int]) -> set[str]:
    """Names (``psm_...``) of the shared-memory segments that any of ``pids`` has mapped and
    that still exist (a mapping of an unlinked segment reads ``(deleted)``)."""
    names = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    path = line.rstrip("\n").split(None, 5)[5:]
                    if path and path[0].startswith(SHM_DIR + _SEGMENT_PREFIX) \
                            and not path[0].endswith(" (deleted)"):
                        names.add(path[0][len(SHM_DIR):])
        except OSError:
            continue
    return names


def unlink_segments(names: Iterable[str], *, untrack: bool) -> list[str]:
    """``shm_unlink`` each segment that still exists; return the names removed here.

    ``untrack``: also tell this process's multiprocessing resource tracker, which registered
    the segments this process created, that they are gone (as ``SharedMemory.unlink`` does),
    so that it does not warn about them at exit.
    """
    import _posixshmem
    from multiprocessing import resource_tracker

    removed = []
    for name in sorted(names):
        try:
            _posixshmem.shm_unlink("/" + name)
        except FileNotFoundError:
            continue
        removed.append(name)
        if untrack:
            resource_tracker.unregister("/" + name, "shared_memory")
    return removed


def kill(pids: Iterable[int]) -> None:
    """SIGKILL each pid that still exists (a stopped process dies too)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def tracker_pid() -> int | None:
    """The pid of this process's multiprocessing resource tracker, if it runs: it belongs to
    the whole program, not to a run, and unlinks what a killed program leaves behind."""
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)
