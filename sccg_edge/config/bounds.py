"""The range of every number in every config: declared once, on the field, and checked in one place.

A numeric field of a config dataclass either declares its range with :func:`bounded` (``size: int = bounded(256,
16, SIZE_MAX, multiple=4)``) or gets the rule every other number follows, :data:`NUMBER`: finite and >= 0 (counts,
sizes, minutes, loss weights; 0 is how a config says "off"). :func:`check_value` is the one check: the loader calls
it on every value it reads (recipe, ``--set``, flags), and every config's ``__post_init__`` calls
:func:`check_fields` (through ``normalize``), so a config built in code is held to the same ranges.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from sccg_edge.errors import ConfigError

SIZE_MAX = 4096  # largest slice size any stage runs at (the paper: 512); a 4096^2 float32 slice is 64 MiB
WIDTH_MAX = 1024  # largest generator / discriminator width (ngf, ndf); the paper's teacher is 64
THREADS_MAX = 4096
COUNT_MAX = 10**9  # steps, epochs, iterations, slices: beyond this a run would never end


@dataclass(frozen=True)
class Bounds:
    """An inclusive numeric range, optionally a step (``multiple``) and 0 as an "off" value outside it."""

    lo: float = 0.0
    hi: float = math.inf
    multiple: int = 1
    off: bool = False  # 0 is accepted besides the range (0: off / the default)
    lo_open: bool = False  # lo itself is refused (a learning rate > 0)
    hi_open: bool = False  # hi itself is refused (a decay < 1)

    def accepts(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the range (or 0 where 0 means off)."""
        if not math.isfinite(value):
            return False
        if self.off and value == 0:
            return True
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below and (self.multiple == 1 or int(value) % self.multiple == 0)

    def describe(self) -> str:
        """The rule in words, e.g. ``a multiple of 4 from 16 to 4096``."""
        what = f"a multiple of {self.multiple}" if self.multiple > 1 else "a number"
        lo, hi = _num(self.lo), _num(self.hi)
        if math.isinf(self.hi):
            text = f"{what} {'>' if self.lo_open else '>='} {lo}"
        elif self.lo_open or self.hi_open:
            text = f"{what} in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        else:
            text = f"{what} from {lo} to {hi}"
        return text + (" (or 0: off)" if self.off else "")


#: The range of a number whose field declares none: finite and >= 0.
NUMBER = Bounds()


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def bounded(default: Any, lo: float = 0.0, hi: float = math.inf, *, multiple: int = 1, off: bool = False,
            lo_open: bool = False, hi_open: bool = False) -> Any:
    """A dataclass field with ``default`` whose values must lie in the declared range (see :class:`Bounds`)."""
    bounds = Bounds(lo, hi, multiple, off, lo_open, hi_open)
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def field_bounds(f: dataclasses.Field) -> Bounds:  # type: ignore[type-arg]
    """The declared range of field ``f`` (:data:`NUMBER` when it declares none)."""
    return f.metadata.get("bounds", NUMBER)


def check_value(value: Any, bounds: Bounds, dotted: str, source: str) -> None:
    """ConfigError naming ``source`` and key ``dotted`` unless every number in ``value`` lies within ``bounds``.

    Booleans, strings and None (an unset optional) are not numbers and pass; a tuple is checked item by item.
    """
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            check_value(item, bounds, f"{dotted}[{i}]", source)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not bounds.accepts(value):
        raise ConfigError(f"{source}: '{dotted}' must be {bounds.describe()}, got {value!r}")


def check_fields(cfg: Any, source: str) -> None:
    """Check every numeric field of config dataclass ``cfg`` against its range (nested configs check themselves)."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        if not dataclasses.is_dataclass(hints[f.name]):
            check_value(getattr(cfg, f.name), field_bounds(f), f.name, source)
