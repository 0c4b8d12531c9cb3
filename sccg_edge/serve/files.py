"""File helpers of the spool: durable JSON and instance writes, sizes, the one-node-per-spool lock."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from sccg_edge.errors import ConfigError
from sccg_edge.utils.fs import atomic_write_text, fsync_dir

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def is_no_space(exc: BaseException) -> bool:
    """True for 'disk full' and 'quota exceeded'."""
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


def write_json(path: Path, obj: Any) -> None:
    """Atomically and durably replace ``path`` with ``obj`` as JSON (file and folder entry fsync'd)."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True))
    fsync_dir(path.parent)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object, or None when the file is missing or unreadable."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def tree_bytes(root: Path) -> int:
    """Bytes of all files under ``root``."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def write_instance(folder: Path, sop: str, data: bytes) -> None:
    """Write ``data`` as ``folder/<sop>.dcm``: temporary file, fsync, rename, fsync of the folder."""
    tmp = folder / f".{sop}.{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, folder / f"{sop}.dcm")
        fsync_dir(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def lock_spool(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError("another sccg-edge serve node is using this spool; stop it or give another --spool",
                          path.parent) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
