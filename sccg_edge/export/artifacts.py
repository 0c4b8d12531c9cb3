"""The export verb: ``export_artifact(model, ExportConfig, out)`` -> an artifact folder with the model file(s),
``config.yaml`` and a model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sccg_edge.backends import load_backend, open_artifact
from sccg_edge.backends.cards import write_card
from sccg_edge.backends.inspect import precision_summary, size_on_disk
from sccg_edge.config import DataConfig, ExportConfig, ExportProfile, to_dict
from sccg_edge.config.export import profiles_root
from sccg_edge.data.slices import load_split
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.export.onnx import check_onnx_parity, export_onnx
from sccg_edge.export.openvino import to_openvino
from sccg_edge.export.tensorrt import build_engine
from sccg_edge.metrics.score import fidelity
from sccg_edge.models.generator import Generator
from sccg_edge.models.loading import load_generator
from sccg_edge.utils.fs import atomic_dir, check_writable


def default_out(model: str | Path, direction: str, profile: ExportProfile) -> Path:
    """``export/artifacts/<model>-<direction>-<profile>/``."""
    return profiles_root() / "artifacts" / f"{Path(str(model)).stem}-{direction}-{profile.name}"


def _build(model: Generator | None, prof: ExportProfile, size: int, tmp: Path,
           onnx_in: Path | None) -> tuple[Path, Path]:
    """Write the model file(s) into ``tmp``; returns (artifact, FP32 ONNX it was made from)."""
    src = onnx_in or export_onnx(model, tmp / "model.onnx", size, prof.opset, prof.dynamic_batch)  # type: ignore[arg-type]
    if prof.format == "onnx":
        return src, src
    if prof.format == "openvino":
        return to_openvino(src, tmp / "model.xml", compress_to_fp16=prof.precision == "fp16"), src
    return build_engine(src, tmp / "model.engine", prof), src


def export_artifact(model: str | Path, cfg: ExportConfig, out: Path | None = None) -> dict[str, Any]:
    """Export a generator (or, for TensorRT, an existing FP16 / Q/DQ ONNX) per ``cfg.profile`` into ``out``.

    FP32 profiles export from the generator; INT8 / FP16 profiles need the graph written by ``sccg-edge quantize``
    (pass its ``model.onnx`` as ``model`` for TensorRT). The card holds the torch-vs-ONNX Runtime parity and the
    artifact's fidelity on the validation split against the generator run by the torch backend.
    """
    prof, direction = cfg.profile, cfg.direction
    onnx_in = Path(model) if str(model).endswith(".onnx") else None
    if onnx_in is not None and prof.format != "tensorrt":
        raise InputError("an ONNX file can only be given for --format tensorrt; give a generator otherwise", model)
    if onnx_in is None and prof.precision != "fp32" and not (prof.format == "openvino" and prof.precision == "fp16"):
        raise ConfigError(f"profile '{prof.name}' is {prof.precision}; build it with `sccg-edge quantize "
                          f"--{prof.precision} --target {prof.format}` (then, for TensorRT, export its model.onnx)")
    loaded = None if onnx_in else load_generator(model, direction)
    size = prof.sizes[0]
    out = Path(out) if out else default_out(model, direction, prof)
    if out.exists():
        raise InputError("already exists; choose a new --out folder", out)
    check_writable(out)
    card: dict[str, Any] = {"name": out.name, "format": prof.format, "precision": prof.precision,
                            "target": prof.target, "source": str(model), "direction": direction, "size": size,
                            "ct_window": loaded.ct_window if loaded is not None else None}
    with atomic_dir(out) as tmp:
        artifact, src = _build(loaded.model if loaded else None, prof, size, tmp, onnx_in)
        card.update({"file": artifact.name, "bytes": size_on_disk(artifact)})
        if loaded is not None:
            val = load_split(DataConfig(root=cfg.data, size=size, ct_window=loaded.ct_window), "val",
                             cfg.val_max_slices)
            x, gt = val.pair(direction)
            reference = load_backend("torch", loaded.model)
            card["onnx_parity_max_abs"] = check_onnx_parity(reference, src, x[:1])
            if prof.format != "tensorrt":
                card["fidelity"] = fidelity(open_artifact(artifact, threads=1), x, gt, reference=reference)
                card["precision_per_group"] = precision_summary(artifact)
        resolved = {"model": str(model), "direction": direction, "profile": to_dict(prof)}
        (tmp / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        write_card(tmp, card)
    return {**card, "out": str(out)}
