"""Output folders of a conversion: never overwritten, never inside the input, written whole or not at all.

Every output folder is written under a temporary hidden name (``.NAME.*.partial``) beside the final one and renamed
into place when complete, so an interrupted run leaves nothing under the final name; partial folders left by a killed
run are removed by the next run to the same output (:func:`clean_stale_partials`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sccg_edge.errors import InputError

OWNER_FILE = ".sccg-owner-pid"  # inside a partial output folder: the pid of the process writing it


def check_output_folder(out: Path, inp: Path) -> None:
    """Refuse an existing output folder and an output inside the input folder."""
    out, inp = Path(out).resolve(), Path(inp).resolve()
    if out.exists():
        raise InputError("output folder already exists; nothing was overwritten. Choose a new --out", out)
    if out == inp or inp in out.parents:
        raise InputError(f"output folder lies inside the input folder {inp}; write it elsewhere", out)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(out: Path) -> list[Path]:
    """Remove ``.NAME.*.partial`` folders beside ``out`` whose writer is gone (killed run); returns them.

    A partial folder whose owner pid (``.sccg-owner-pid`` inside it) is still running is left alone.
    """
    out = Path(out)
    removed = []
    if not out.parent.is_dir():
        return removed
    for cand in out.parent.glob(f".{out.name}.*.partial"):
        try:
            pid = int((cand / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if cand.is_dir() and not (pid and _pid_alive(pid)):
            shutil.rmtree(cand, ignore_errors=True)
            removed.append(cand)
    return removed


def mark_owner(tmp: Path) -> None:
    """Record this process as the writer of a partial folder (see :func:`clean_stale_partials`)."""
    (Path(tmp) / OWNER_FILE).write_text(str(os.getpid()))


def unmark_owner(tmp: Path) -> None:
    """Remove the owner record just before the partial folder is renamed into place."""
    (Path(tmp) / OWNER_FILE).unlink(missing_ok=True)
