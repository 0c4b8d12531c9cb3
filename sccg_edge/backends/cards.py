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

#: model files an export / quantize folder may hold, the deployable one first (an OpenVINO export keeps its ONNX too)
ARTIFACT_FILES = ("model.engine", "model.xml", "model.onnx")


def artifact_file(folder: Path) -> Path | None:
    """The model file inside an artifact folder that ``export`` or ``quantize`` wrote (the file its ``card.json``
    names, else the first of :data:`ARTIFACT_FILES` present); None when ``folder`` is not such a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    try:
        named = json.loads((folder / "card.json").read_text()).get("file")
    except (OSError, ValueError, AttributeError):
        named = None
    if isinstance(named, str) and Path(named).suffix in (".engine", ".plan", ".xml", ".onnx") \
            and (folder / Path(named).name).is_file():
        return folder / Path(named).name
    return next((folder / n for n in ARTIFACT_FILES if (folder / n).is_file()), None)


#: keys the export/quantize step records in an artifact (ONNX ``metadata_props``, prefixed) and in its card
RECORDED = ("direction", "size", "ct_window", "precision", "model")
ONNX_PREFIX = "sccg_edge."


#: the ONNX Runtime graph optimisation level quantize measured fastest for a Q/DQ file (read by the onnxruntime backend)
GRAPH_LEVEL_KEY = "ort_graph_level"


def stamp_onnx(path: Path, card: dict[str, Any]) -> None:
    """Record direction, size, CT window, precision and source model inside an ONNX file (``metadata_props``), so
    the file alone says what it translates even when copied away from its card."""
    values = {**card, "model": card.get("source")}
    _write_onnx_metadata(path, RECORDED, {key: values.get(key) for key in RECORDED})


def record_in_onnx(path: Path, key: str, value: str) -> None:
    """Set one ``sccg_edge.<key>`` entry of an ONNX file's ``metadata_props`` (others unchanged)."""
    _write_onnx_metadata(path, (key,), {key: value})


def _write_onnx_metadata(path: Path, replaced: tuple[str, ...], values: dict[str, Any]) -> None:
    """Drop the ``sccg_edge.`` entries of ``replaced`` from an ONNX file and add those of ``values`` not None; every
    other entry is kept."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    kept = [p for p in model.metadata_props if p.key not in {ONNX_PREFIX + key for key in replaced}]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = ONNX_PREFIX + key, str(value)
    onnx.save(model, str(path))


def onnx_metadata(path: Path) -> dict[str, Any]:
    """What :func:`stamp_onnx` recorded in an ONNX file (empty for a file written before it did, or unreadable)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - a damaged file is reported by the runtime that loads it
        return {}
    return {p.key[len(ONNX_PREFIX):]: p.value for p in model.metadata_props if p.key.startswith(ONNX_PREFIX)}


def artifact_metadata(artifact: Path | None) -> dict[str, Any]:
    """What the export/quantize step recorded in an artifact (ONNX metadata) or beside it (``card.json`` or
    ``config.yaml``), if anything; ``recorded_in`` names where the direction came from."""
    if artifact is None or not artifact.exists():
        return {}
    inside = onnx_metadata(artifact) if artifact.is_file() and artifact.suffix.lower() == ".onnx" else {}
    beside = _sidecar_metadata(artifact)
    meta = {**beside, **{k: v for k, v in inside.items() if k in ("size", "ct_window", "direction", GRAPH_LEVEL_KEY)}}
    if meta.get("direction"):
        meta["recorded_in"] = "its ONNX metadata" if inside.get("direction") else "its card.json/config.yaml"
    return meta


def _sidecar_metadata(artifact: Path) -> dict[str, Any]:
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
    """Write ``card.json`` and a short ``card.md`` into ``folder`` (and stamp an ONNX model file named by
    ``card["file"]`` with :func:`stamp_onnx`)."""
    folder = Path(folder)
    if str(card.get("file", "")).endswith(".onnx") and (folder / card["file"]).is_file():
        stamp_onnx(folder / card["file"], card)
    (folder / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    lines = [f"# {card.get('name', 'artifact')}", ""]
    for key in ("format", "precision", "target", "source", "size", "bytes", "data", "notes"):
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
