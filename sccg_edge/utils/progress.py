"""Progress bars for long work (rich), written to stderr so that ``--json`` output on stdout stays clean."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import track as rich_track

T = TypeVar("T")


def track(items: Iterable[T], description: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` with a rich progress bar (ETA included) on stderr."""
    if not enabled:
        yield from items
        return
    yield from rich_track(items, description=description, total=total, console=Console(stderr=True),
                          transient=False)
