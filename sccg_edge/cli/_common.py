"""Helpers shared by the CLI modules: JSON output and rich tables."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

_RESULT_STREAM: list[Any] = []


@contextlib.contextmanager
def diverted_stdout() -> Iterator[None]:
    """Send what is printed to stdout to stderr meanwhile; :func:`result_stream` stays the real stdout."""
    _RESULT_STREAM.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _RESULT_STREAM.pop()


def result_stream() -> Any:
    """Where command results go: the real stdout, even while library output is diverted to stderr.

    :func:`sccg_edge.cli.main` sends everything printed during a command (third-party progress output, e.g. NNCF's)
    to stderr, so that ``--json`` output on stdout is exactly one JSON object.
    """
    return _RESULT_STREAM[-1] if _RESULT_STREAM else sys.stdout


def result_console() -> Any:
    """A rich Console writing to :func:`result_stream` (for result tables)."""
    from rich.console import Console

    return Console(file=result_stream())


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (for ``--json``)."""
    stream = result_stream()
    stream.write(json.dumps(obj, indent=2, default=_default) + "\n")
    stream.flush()


def _default(obj: Any) -> Any:
    from pathlib import Path

    import numpy as np

    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def print_kv_table(title: str, rows: dict[str, Any]) -> None:
    """Print a two-column rich table of key -> value."""
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    result_console().print(table)
