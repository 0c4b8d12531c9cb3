"""Helpers shared by the CLI modules: JSON output and rich tables."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (for ``--json``)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")


def _default(obj: Any) -> Any:
    import numpy as np
    from pathlib import Path

    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def print_kv_table(title: str, rows: dict[str, Any]) -> None:
    """Print a two-column rich table of key -> value."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    Console().print(table)
