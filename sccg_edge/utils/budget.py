"""The memory budget: the most memory one input may make any reader allocate, checked before allocating.

Every reader (DICOM headers and pixels, deflated DICOM, PNG/TIFF, generator weights) computes what an input asks
for from its header and calls :func:`check_allocation` before it allocates, so a small file that declares a huge
image is refused with one line instead of driving the machine out of memory. The budget is
:data:`DEFAULT_BUDGET` unless the environment variable :data:`BUDGET_ENV` sets it (``SCCG_MEMORY_BUDGET=8GiB``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sccg_edge.errors import ConfigError, InputError

BUDGET_ENV = "SCCG_MEMORY_BUDGET"
DEFAULT_BUDGET = 2 * 1024**3  # 2 GiB: a 512 x 512 x 2000 float32 volume fits
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def parse_bytes(text: str) -> int:
    """``"2GiB"``, ``"512 MB"``, ``"1000000"`` -> bytes; ValueError when it is not a positive size."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(text)
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise ValueError(text)
    return value


def memory_budget() -> int:
    """The memory budget in bytes (``$SCCG_MEMORY_BUDGET`` or :data:`DEFAULT_BUDGET`)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    try:
        return parse_bytes(raw)
    except ValueError:
        raise ConfigError(f"{BUDGET_ENV}={raw!r} is not a size; give e.g. {BUDGET_ENV}=4GiB or 512MiB") from None


def format_bytes(n: float) -> str:
    """``1610612736`` -> ``"1.5 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # unreachable


def check_allocation(nbytes: float, what: str, path: str | Path | None = None) -> None:
    """InputError naming ``path`` when ``what`` would need more than the memory budget (``nbytes`` bytes)."""
    budget = memory_budget()
    if nbytes > budget:
        raise InputError(f"{what} would need {format_bytes(nbytes)}, more than the memory budget of "
                         f"{format_bytes(budget)}: the header is corrupt or the input is too large; if it is "
                         f"genuine, raise the budget ({BUDGET_ENV}=16GiB)", path)
