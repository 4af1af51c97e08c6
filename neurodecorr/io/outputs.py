"""All-or-nothing outputs: every file neurodecorr writes goes through :func:`write_outputs`.

The promise (see docs/reliability.md): a command either leaves every output it was asked for,
complete, or leaves the files exactly as they were. The mechanism:

* :func:`check_outputs` runs before any work. It refuses a missing or unwritable folder, a name
  the file system cannot hold, a folder, FIFO, device or socket where a file should go (also
  behind a symbolic link), two outputs on the same file, and an output that would replace one of
  the command's inputs. Each problem is one line naming the option and the path.
* :func:`write_outputs` stages every file as a hidden temporary in its destination folder. The
  temporary is registered for removal before it is even created, so an interrupt at any moment
  leaves nothing behind. Only when all
  files are staged are they renamed into place; an existing file is first hard-linked aside, so
  a failed rename rolls every earlier one back. The folder is fsynced after the renames.
* Files are created with the mode ``0o666 & ~umask``, like any program that calls ``open``; a
  replaced file keeps its mode. (``mkstemp`` alone would make every output private, 0600.)
* Any ``OSError`` becomes a :class:`NeurodecorrError` naming the path: ``no space left on
  device``, ``permission denied``, ...
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from neurodecorr.errors import NeurodecorrError

PathLike = str | os.PathLike

_SPECIAL = {stat.S_IFIFO: "FIFO", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
            stat.S_IFSOCK: "socket", stat.S_IFDIR: "folder"}


def file_kind(mode: int) -> str:
    """A human name for the type of file ``mode`` (from ``os.stat``) describes."""
    return _SPECIAL.get(stat.S_IFMT(mode), "regular file")


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _check_name(path: Path, what: str) -> None:
    """Refuse a name longer than the file system's limit (checked in its nearest folder)."""
    folder = _folder_of(path)
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
        path_max = os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return
    if len(os.fsencode(path.name)) > name_max:
        raise NeurodecorrError(f"{what}: file name too long ({len(os.fsencode(path.name))} "
                               f"bytes; the file system allows {name_max}): {path}")
    if len(os.fsencode(os.path.abspath(path))) >= path_max:
        raise NeurodecorrError(f"{what}: path too long: {path}")


def _probe(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder``: the one reliable test of writability (root ignores
    permission bits, a read-only mount ignores them the other way)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nd-probe-")
    except OSError as exc:
        raise NeurodecorrError(f"{what}: cannot write in {folder} ({_reason(exc)})") from None
    os.close(fd)
    os.unlink(tmp)


def resolve_output(path: PathLike, what: str = "output") -> Path:
    """The file an output path will really write, after checking it may be replaced.

    A symbolic link to a regular file is followed (the link stays, its target is replaced); a
    dangling link, a folder, FIFO, device or socket is refused.
    """
    path = Path(path)
    if str(path) == "" or path.name in ("", ".", ".."):
        raise NeurodecorrError(f"{what}: not a file name: '{path}'")
    if path.is_symlink():
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise NeurodecorrError(f"{what}: {path} is a broken symbolic link") from None
        if not stat.S_ISREG(mode):
            raise NeurodecorrError(f"{what}: {path} is a symbolic link to a {file_kind(mode)}, "
                                   f"not a regular file; refusing to replace it")
        return Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise NeurodecorrError(f"{what}: cannot use {path} ({_reason(exc)})") from None
    if not stat.S_ISREG(mode):
        raise NeurodecorrError(f"{what}: {path} is a {file_kind(mode)}, not a regular file; "
                               f"refusing to replace it")
    return path


def _identity(path: Path) -> tuple:
    """What makes two paths the same file: device and inode when it exists (hard links too)."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check_outputs(files: Mapping[str, PathLike | None] | None = None, *,
                  folders: Mapping[str, PathLike | None] | None = None,
                  inputs: Mapping[str, PathLike | None] | None = None) -> None:
    """Check every output location before any work is done.

    Parameters
    ----------
    files : mapping of option name -> path or None
        Output files (``None`` entries are options not given).
    folders : mapping of option name -> path or None
        Output folders; one that does not exist is created by :func:`write_outputs`, so its
        parent must exist and be writable.
    inputs : mapping of option name -> path or None
        Files the command reads; no output may replace one of them.

    Raises
    ------
    NeurodecorrError
        Naming the option and the path of the first problem found.
    """
    new_folders = set()
    for what, folder in (folders or {}).items():
        if folder is None:
            continue
        folder = Path(folder)
        _check_name(folder, what)
        if folder.exists():
            if not folder.is_dir():
                raise NeurodecorrError(f"{what}: {folder} exists and is not a folder")
            _probe(folder, what)
        else:
            parent = _folder_of(folder)
            if not parent.is_dir():
                raise NeurodecorrError(f"{what}: parent folder does not exist: {parent}")
            _probe(parent, what)
            new_folders.add(os.path.abspath(folder))
    seen: dict[tuple, str] = {}
    for what, path in (files or {}).items():
        if path is None:
            continue
        path = Path(path)
        _check_name(path, what)
        real = resolve_output(path, what)
        folder = _folder_of(real)
        if os.path.abspath(folder) not in new_folders:
            if not folder.is_dir():
                raise NeurodecorrError(f"{what}: output folder does not exist: {folder}")
            _probe(folder, what)
        key = _identity(real)
        if key in seen:
            raise NeurodecorrError(f"{what}: {path} is also the output of {seen[key]}; give "
                                   f"each output its own file")
        seen[key] = what
    for what, path in (inputs or {}).items():
        if path is not None and _identity(Path(path)) in seen:
            raise NeurodecorrError(f"{seen[_identity(Path(path))]}: would overwrite the input "
                                   f"{what} ({path}); choose another output")


def check_output_folder(path: PathLike, what: str = "output") -> None:
    """Check one output file before any work (see :func:`check_outputs`)."""
    check_outputs({what: path})


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (they arrive afterwards), so a step cannot be cut in half.

    The signal mask holds them back from this thread only. A process-directed signal may be
    delivered to another thread (a BLAS worker), and CPython then runs the Python handler in
    the main thread all the same. So, in the main thread, the handlers are also swapped for
    one that notes the signal; the noted signals are raised again, in order, once the block
    has ended.
    """
    held = (signal.SIGINT, signal.SIGTERM)
    noted: list[int] = []
    handlers: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in held:
            if signal.getsignal(signum) is not None:  # None: a handler set outside Python
                handlers[signum] = signal.signal(signum, lambda number, _: noted.append(number))
    try:
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # no POSIX signal masks
        old_mask = None
    try:
        yield
    finally:
        if old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync a folder; the rename still stands
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


class _Transaction:
    """The temporaries, backups and new files of one :func:`write_outputs` call."""

    def __init__(self) -> None:
        self.temporaries: list[str] = []
        self.swapped: list[tuple[Path, str | None]] = []  # (destination, backup of the old file)
        self.made_folders: list[Path] = []

    def make_folder(self, folder: Path) -> None:
        if folder.is_dir():
            return
        with _signals_held():
            folder.mkdir()
            self.made_folders.append(folder)

    def _create(self, dest: Path) -> tuple[int, str]:
        """Create a new hidden temporary beside ``dest``, registered for removal before it
        exists: an interrupt at any instant (also one delivered to another thread, which no
        signal mask holds back) cannot leave it behind."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            tmp = os.path.join(_folder_of(dest), f".{dest.name[:32]}.{secrets.token_hex(4)}.tmp")
            self.temporaries.append(tmp)
            try:
                return os.open(tmp, flags, 0o600), tmp
            except FileExistsError:  # not ours: never remove it
                self.temporaries.remove(tmp)
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(dest))

    def stage(self, dest: Path, data: bytes, umask: int) -> str:
        fd, tmp = self._create(dest)
        with os.fdopen(fd, "wb") as fh:
            try:
                mode = stat.S_IMODE(os.stat(dest).st_mode)
            except OSError:
                mode = 0o666 & ~umask
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def swap(self, tmp: str, dest: Path) -> None:
        backup = None
        if dest.exists():
            backup = tmp + ".old"
            try:
                os.link(dest, backup)
            except OSError:  # no hard links here: copy-free fallback, old file moved aside
                os.replace(dest, backup)
        self.swapped.append((dest, backup))
        os.replace(tmp, dest)
        self.temporaries.remove(tmp)

    def roll_back(self) -> None:
        for dest, backup in reversed(self.swapped):
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(dest)
                else:
                    os.replace(backup, dest)
            with contextlib.suppress(OSError):  # rename between two links of one file is a no-op
                if backup is not None:
                    os.unlink(backup)
        self.swapped.clear()

    def remove_made_folders(self) -> None:
        for folder in reversed(self.made_folders):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self.made_folders.clear()

    def clean_up(self) -> None:
        leftovers = self.temporaries + [b for _, b in self.swapped if b is not None]
        for path in leftovers:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.temporaries.clear()
        self.swapped.clear()


def write_outputs(files: Mapping[PathLike, bytes], make_folders: Iterable[PathLike] = ()) -> None:
    """Write several files all-or-nothing.

    Parameters
    ----------
    files : mapping of path -> bytes
        The outputs; symbolic links to regular files are written through.
    make_folders : iterable of path
        Folders to create if missing (removed again if the write fails).

    Raises
    ------
    NeurodecorrError
        On any file-system error, naming the path; every output is then as it was before.
    """
    targets = {path: resolve_output(path) for path in files}
    new_folders = [os.path.abspath(folder) for folder in make_folders]
    seen: dict[tuple, PathLike] = {}
    for path, real in targets.items():
        folder = _folder_of(real)
        if not folder.is_dir() and os.path.abspath(folder) not in new_folders:
            raise NeurodecorrError(f"{path}: output folder does not exist: {folder}")
        key = _identity(real)
        if key in seen:
            raise NeurodecorrError(f"{path} and {seen[key]} are the same file; give each output "
                                   f"its own file")
        seen[key] = path
    umask = _umask()
    transaction = _Transaction()
    current: PathLike = ""
    committed = False
    try:
        for folder in new_folders:
            current = folder
            transaction.make_folder(Path(folder))
        staged = []
        for path, data in files.items():
            current = path
            staged.append((transaction.stage(targets[path], data, umask), targets[path]))
        with _signals_held():  # the renames are quick: done together or rolled back together
            try:
                for tmp, dest in staged:
                    current = dest
                    transaction.swap(tmp, dest)
                for folder in {_folder_of(dest) for _, dest in staged}:
                    current = folder
                    _fsync_folder(folder)
                committed = True
            finally:
                if not committed:
                    transaction.roll_back()
                transaction.clean_up()
    except OSError as exc:
        raise NeurodecorrError(f"{current}: cannot write ({_reason(exc)})") from None
    finally:
        if not committed:
            transaction.roll_back()
        transaction.clean_up()
        if not committed:
            transaction.remove_made_folders()
