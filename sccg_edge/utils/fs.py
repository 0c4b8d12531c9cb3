"""Atomic file and folder writes: nothing half-written is ever left under a final name."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sccg_edge.errors import InputError

#: the environment variable that moves the cache folder (default ``~/.cache/sccg-edge``)
CACHE_ENV = "SCCG_CACHE_DIR"


def cache_dir() -> Path:
    """The sccg-edge cache folder (embedded data, logs, registrations, compiled models): ``$SCCG_CACHE_DIR`` or
    ``~/.cache/sccg-edge``. Everything in it can be deleted; it is made again when needed."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sccg-edge"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_dir(final: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it is renamed to ``final``.

    With ``replace=True`` an existing ``final`` is swapped out (kept as ``final.old`` until the new folder is in
    place, then removed), so a crash at any moment leaves either the old or the new folder complete.
    On error the temporary folder is removed and ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the folder the permissions mkdir() would
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(final.name + ".old")
    if final.exists():
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(final)
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (names created, renamed or removed in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (and ``root`` itself) to disk, deepest first."""
    root = Path(root)
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


# ----------------------------------------------------------------------------------------------- before the work

PROBE_BYTES = 4096  # one block written and removed to prove a folder takes data (read-only or full file systems)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor; refuses a path that runs under a regular file."""
    cur = Path(os.path.abspath(path))
    while not cur.exists():
        cur = cur.parent
    if cur != Path(os.path.abspath(path)) and not cur.is_dir():
        raise InputError(f"lies under {cur}, which is a file, not a folder; choose an --out whose parent is a "
                         "folder", path)
    return cur


def check_writable(out: Path, need_bytes: int = 0) -> None:
    """Prove, before any work starts, that ``out`` (a file or folder to create) can be written.

    Writes and removes a probe file in the folder that will hold ``out`` (the nearest existing ancestor), which
    catches a read-only file system, missing permission, a path under a file and a full disk, and compares
    ``need_bytes`` (an estimate of the output's size) with the free space there.

    Raises:
        InputError: naming ``out`` and what to do.
    """
    out = Path(out)
    where = _nearest_existing(out)
    # an existing output folder (e.g. an empty one) takes the files itself; an existing file is replaced in its folder
    folder = where.parent if where == Path(os.path.abspath(out)) and not where.is_dir() else where
    try:
        fd, probe = tempfile.mkstemp(prefix=".sccg-probe.", dir=folder)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        raise InputError(f"cannot write here ({describe_os_error(err)}); {_fix(err)}", out) from None
    free = shutil.disk_usage(folder).free
    if need_bytes > free:
        raise InputError(f"needs about {need_bytes / 2**20:.1f} MiB but only {free / 2**20:.1f} MiB are free on "
                         f"{folder}; free space or choose another --out", out)


def describe_os_error(err: OSError) -> str:
    """A short reason for an OS error, without a traceback (e.g. "read-only file system")."""
    return (err.strerror or type(err).__name__).lower()


def _fix(err: OSError) -> str:
    code = err.errno
    if code == errno.EROFS:
        return "the file system is mounted read-only: choose an --out on a writable one"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free space or choose an --out on another disk"
    if code in (errno.EACCES, errno.EPERM):
        return "no permission to write there: choose an --out you can write"
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a folder: choose another --out"
    return "choose another --out"


def os_error_line(err: OSError, fallback: str | None = None) -> str:
    """The one-line ``<path>: <what happened>; <what to do>`` of an OS error met while reading or writing
    (``fallback`` names the path when the OS did not, e.g. a write that ran out of space)."""
    path = err.filename if err.filename is not None else fallback or "(unknown path)"
    return f"{path}: {describe_os_error(err)}; {_fix(err)}"


@contextmanager
def claim_output(out: Path) -> Iterator[None]:
    """Hold an exclusive claim on the output name ``out`` for the duration of the work.

    A second process claiming the same output is refused at once (before it does any work), not when it renames
    its finished output into place. The claim is an ``flock`` on a hidden ``.NAME.sccg-lock`` file beside ``out``,
    removed on release; a killed holder's lock is released by the kernel, so a stale file never blocks a rerun.

    Raises:
        InputError: another process is writing ``out``.
    """
    out = Path(out)
    lock = out.with_name(f".{out.name}.sccg-lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError("another sccg-edge process is writing this output now; wait for it to finish or "
                             "choose another --out", out) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino  # not a lock file its last holder just removed
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with suppress(OSError):
            os.unlink(lock)
        os.close(fd)
