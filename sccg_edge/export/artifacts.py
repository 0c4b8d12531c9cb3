"""The export verb: (generator, profile) -> artifact folder with model file(s), config.yaml and a model card."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sccg_edge.errors import ConfigError, InputError
from sccg_edge.export.profiles import FORMATS, ExportProfile, load_profile, profiles_root


def default_out(model: str | Path, direction: str, profile: ExportProfile) -> Path:
    """``export/artifacts/<model>-<direction>-<profile>/``."""
    return profiles_root() / "artifacts" / f"{Path(str(model)).stem}-{direction}-{profile.name}"


def resolve_profile(fmt: str | None, profile: str | None, size: int = 0) -> ExportProfile:
    """The profile named by ``profile`` (its format must agree with ``fmt``) or a plain FP32 one for ``fmt``."""
    if profile:
        prof = load_profile(profile)
        if fmt and fmt != prof.format:
            raise ConfigError(f"--format {fmt} disagrees with profile '{prof.name}' (format {prof.format})")
    elif fmt in FORMATS:
        prof = ExportProfile(name=f"{fmt}-fp32", format=fmt)
    else:
        raise ConfigError(f"unknown --format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    return replace(prof, sizes=(size, *[s for s in prof.sizes if s != size])) if size else prof


def _build(model: Any, prof: ExportProfile, size: int, tmp: Path, onnx_in: Path | None) -> tuple[Path, Path]:
    """Write the model file(s) into ``tmp``; returns (artifact, FP32 ONNX used as reference)."""
    from sccg_edge.export.onnx import export_onnx

    src = onnx_in or export_onnx(model, tmp / "model.onnx", size, prof.opset, prof.dynamic_batch)
    if prof.format == "onnx":
        return src, src
    if prof.format == "openvino":
        from sccg_edge.export.openvino import to_openvino

        return to_openvino(src, tmp / "model.xml", compress_to_fp16=prof.precision == "fp16"), src
    from sccg_edge.export.tensorrt import build_engine

    return build_engine(src, tmp / "model.engine", prof), src


def export_artifact(model: str | Path, direction: str, prof: ExportProfile, out: Path | None = None,
                    data: str = "", val_max_slices: int = 8) -> dict[str, Any]:
    """Export a generator (or, for TensorRT, an existing FP16 / Q/DQ ONNX) per ``prof`` into ``out``.

    FP32 profiles export from the generator; INT8 / FP16 profiles need the graph written by ``sccg-edge quantize``
    (pass its ``model.onnx`` as ``model`` for TensorRT).
    """
    import yaml

    from sccg_edge.config import DataConfig, to_dict
    from sccg_edge.export.onnx import check_onnx_parity, run_onnx
    from sccg_edge.models.loading import load_generator
    from sccg_edge.quantize.card import fidelity, precision_summary, size_on_disk, split_pairs, write_card
    from sccg_edge.train.slices import resolve_data_root
    from sccg_edge.utils.fs import atomic_dir

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
    card: dict[str, Any] = {"name": out.name, "format": prof.format, "precision": prof.precision,
                            "target": prof.target, "source": str(model), "direction": direction, "size": size,
                            "ct_window": loaded.ct_window if loaded is not None else None}
    with atomic_dir(out) as tmp:
        artifact, src = _build(loaded.model if loaded else None, prof, size, tmp, onnx_in)
        card.update({"file": artifact.name, "bytes": size_on_disk(artifact)})
        if loaded is not None:
            root, _ = resolve_data_root(DataConfig(root=data))
            val = split_pairs(root, "val", direction, size, val_max_slices, loaded.ct_window)
            card["onnx_parity_max_abs"] = check_onnx_parity(loaded.model, src, val[0][0])
            if prof.format != "tensorrt":
                from sccg_edge.quantize.ptq import _runner

                card["fidelity"] = fidelity(_runner(artifact), lambda x: run_onnx(src, x), val)
                card["precision_per_group"] = precision_summary(artifact)
        resolved = {"model": str(model), "direction": direction, "profile": {**to_dict(prof), "sizes": list(prof.sizes)}}
        (tmp / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        write_card(tmp, card)
    return {**card, "out": str(out)}
