"""Finding dcmtk's command-line tools (the real DICOM peers the node is tested and benchmarked against)."""

from __future__ import annotations

import os
from pathlib import Path


def find_dcmtk(tool: str) -> str | None:
    """Path of dcmtk's ``tool`` on PATH, skipping pynetdicom's Python apps of the same names (scripts)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / tool
        if path.is_file() and os.access(path, os.X_OK):
            with path.open("rb") as fh:
                if fh.read(2) != b"#!":
                    return str(path)
    return None
