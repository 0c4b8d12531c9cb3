"""What export and quantize write beside an artifact, and what a backend reads back from it.

An artifact folder holds the model file (``model.onnx``, ``model.xml`` + ``.bin``, ``model.engine``), the resolved
``config.yaml`` and a model card (``card.json``, ``card.md``). A backend loading the model file takes its slice size,
CT window and direction from them (:func:`artifact_metadata`), so an artifact needs no flags to be run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sccg_edge.config.bounds import SIZE_MAX, Bounds, check_value
from sccg_edge.config.loader import CHOICES
from sccg_edge.errors import InputError


def artifact_metadata(artifact: Path | None) -> dict[str, Any]:
    """What the export/quantize step recorded beside an artifact (``card.json`` or ``config.yaml``), if anything."""
    if artifact is None or not artifact.exists():
        return {}
    folder = artifact if artifact.is_dir() else artifact.parent
    meta: dict[str, Any] = {}
    card, cfg = folder / "card.json", folder / "config.yaml"
    for path, parse in ((cfg, yaml.safe_load), (card, json.loads)):
        if not path.is_file():
            continue
        try:
            loaded = parse(path.read_text())
        except (OSError, ValueError, yaml.YAMLError) as err:  # a damaged sidecar would silently change the inputs
            raise InputError(f"this sidecar of the artifact cannot be read ({str(err).splitlines()[0]}); restore it "
                             "from the export, or delete it to run the artifact with explicit flags", path) from None
        if not isinstance(loaded, dict):
            raise InputError("this sidecar of the artifact is not a mapping; restore it from the export", path)
        meta.update({k: v for k, v in loaded.items() if k in ("size", "ct_window", "direction")})
        _check_hints(meta, path)
    return {k: meta[k] for k in ("size", "ct_window", "direction") if meta.get(k) is not None}


def _check_hints(meta: dict[str, Any], path: Path) -> None:
    """Refuse out-of-range hints (a size of 100000, an unknown window or direction) naming the sidecar file."""
    size = meta.get("size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise InputError(f"'size' must be an integer, got {size!r}; restore the sidecar from the export", path)
        check_value(size, Bounds(16, SIZE_MAX, multiple=4), "size", str(path))
    for key, allowed in (("ct_window", CHOICES["data.ct_window"]), ("direction", ("mr2ct", "ct2mr"))):
        if meta.get(key) is not None and meta[key] not in allowed:
            raise InputError(f"'{key}' must be one of {', '.join(allowed)}, got {meta[key]!r}; restore the sidecar "
                             "from the export", path)


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write ``card.json`` and a short ``card.md`` into ``folder``."""
    folder = Path(folder)
    (folder / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    lines = [f"# {card.get('name', 'artifact')}", ""]
    for key in ("format", "precision", "target", "source", "size", "bytes", "notes"):
        if key in card:
            lines.append(f"- **{key}**: {card[key]}")
    fid = card.get("fidelity") or {}
    if fid:
        lines += ["", "## Fidelity on the validation split (0..255)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in fid.items()]
    prec = card.get("precision_per_group") or {}
    if prec.get("groups"):
        lines += ["", "## Convolutions per layer group", "", "| group | int8 | fp16 | fp32 |", "|---|---|---|---|"]
        lines += [f"| {g} | {c['int8']} | {c['fp16']} | {c['fp32']} |" for g, c in prec["groups"].items()]
    (folder / "card.md").write_text("\n".join(lines) + "\n")
