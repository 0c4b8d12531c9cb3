"""The quantize verb: ``quantize_artifact(model, direction, QuantConfig, out)`` -> an FP16 or INT8 artifact folder.

The folder holds the model file (``model.xml`` + ``.bin`` or ``model.onnx``), the resolved ``config.yaml`` and a
card (``card.json``, ``card.md``) with the method, the precision per layer group and the fidelity on the validation
split, measured against the FP32 source run by the torch backend (:func:`sccg_edge.metrics.score.fidelity`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sccg_edge.backends import load_backend, open_artifact
from sccg_edge.backends.cards import write_card
from sccg_edge.backends.inspect import precision_summary, size_on_disk
from sccg_edge.backends.speed import fastest, time_interleaved
from sccg_edge.config import DataConfig, QuantConfig, to_dict
from sccg_edge.data.pairs import list_pairs
from sccg_edge.data.default import display_path
from sccg_edge.data.slices import SliceSet, load_split, resolve_data_root, slice_set
from sccg_edge.data.splits import split_records
from sccg_edge.errors import InputError
from sccg_edge.export import export_onnx, to_openvino
from sccg_edge.metrics.score import fidelity
from sccg_edge.models.loading import LoadedGenerator, load_generator
from sccg_edge.quantize.budget import quantize_openvino_budget
from sccg_edge.quantize.calibration import CalibrationSet, read_calibration_manifest, select_slices
from sccg_edge.quantize.fp16 import onnx_to_fp16, openvino_fp16
from sccg_edge.quantize.ptq import quantize_onnx_qdq, quantize_openvino_int8
from sccg_edge.quantize.qat import finetune_qat, plain_weights, prepare_qat
from sccg_edge.utils.fs import atomic_dir, check_writable


def quantize_onnx(src: Path, out: Path, cfg: QuantConfig, calib: CalibrationSet | None = None) -> dict[str, Any]:
    """An FP32 ONNX file -> the FP16 or INT8 model file ``out`` that ``cfg`` asks for (no fidelity budget, no QAT).

    FP16: an FP16-compressed OpenVINO IR (``target`` openvino) or an FP16 ONNX with FP32 islands; INT8: an NNCF
    INT8 IR or a Q/DQ ONNX (``calib`` needed). Returns what was done (the card's ``method``).
    """
    if cfg.mode == "fp16":
        return openvino_fp16(src, out, cfg.inference_hint) if cfg.target == "openvino" else onnx_to_fp16(src, out)
    if calib is None:
        raise InputError("INT8 quantization needs calibration slices", src)
    if cfg.target == "openvino":
        return quantize_openvino_int8(src, calib, out, cfg)
    return quantize_onnx_qdq(src, calib, out, cfg)


def calibration_set(cfg: QuantConfig, root: Path, direction: str, ct_window: str) -> CalibrationSet:
    """The calibration set of ``cfg.calibration`` (a manifest) or, without one, a stratified selection of the
    data's calibration split."""
    if cfg.calibration:
        records = read_calibration_manifest(Path(cfg.calibration))
    else:
        calib = split_records(list_pairs(root))["calibration"]
        records = [calib[i] for i in select_slices(calib, cfg.subset_size)] if calib else []
    inputs = slice_set(records, cfg.size, ct_window).pair(direction)[0] if records else []
    return CalibrationSet([x[None] for x in inputs])


def _int8(cfg: QuantConfig, loaded: LoadedGenerator, src: Path, tmp: Path, root: Path, data: DataConfig,
          val: SliceSet) -> tuple[Path, dict[str, Any]]:
    calib = calibration_set(cfg, root, loaded.direction, loaded.ct_window)
    info: dict[str, Any] = {"calibration_slices": len(calib)}
    if cfg.qat:
        qmodel = prepare_qat(loaded.model, calib, cfg.subset_size)
        info["qat"] = finetune_qat(qmodel, loaded.model, load_split(data, "train"), loaded.direction, cfg.qat_cfg)
        if cfg.target == "openvino":
            return to_openvino(qmodel, tmp / "model.xml", size=cfg.size), info
        src = export_onnx(plain_weights(qmodel, loaded.model), tmp / "qat-fp32.onnx", cfg.size)
    if cfg.target == "openvino" and cfg.max_psnr_drop > 0:
        budget = quantize_openvino_budget(src, calib, val, loaded.direction, tmp / "model.xml", cfg)
        return tmp / "model.xml", {**info, **budget}
    artifact = tmp / ("model.xml" if cfg.target == "openvino" else "model.onnx")
    info.update(quantize_onnx(src, artifact, cfg, calib))
    (tmp / "qat-fp32.onnx").unlink(missing_ok=True)
    return artifact, info


def measured_speed(artifact: Path, fp32_onnx: Path, cfg: QuantConfig, hint: str = "f32") -> dict[str, Any] | None:
    """The artifact against its FP32 source on the same runtime, timed interleaved on one slice here (None when
    ``cfg.speed_rounds`` is 0): which of the two is fastest on this CPU."""
    if cfg.speed_rounds <= 0:
        return None
    built = open_artifact(artifact, hint=hint)
    runs = {f"{built.name} {cfg.mode}": built, f"{built.name} fp32": load_backend(built.name, fp32_onnx)}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, cfg.size, cfg.size)).astype(np.float32)
    return fastest(time_interleaved(runs, x, rounds=cfg.speed_rounds), chosen=f"{built.name} {cfg.mode}")


def quantize_artifact(model: str | Path, direction: str, cfg: QuantConfig, out: Path) -> dict[str, Any]:
    """Build an FP16 or INT8 artifact folder ``out`` (model file, config.yaml, card.json, card.md).

    Raises:
        InputError: not a generator, existing ``out``, too-small or leaking calibration, missing data splits.
        ConfigError: bad config values.
    """
    out = Path(out)
    if out.exists():
        raise InputError("already exists; choose a new --out folder", out)
    check_writable(out)
    loaded = load_generator(model, direction)
    root, described = resolve_data_root(DataConfig(root=cfg.data))
    data = DataConfig(root=cfg.data, size=cfg.size, ct_window=loaded.ct_window)
    val = load_split(data, "val", cfg.val_max_slices)
    with atomic_dir(out) as tmp:
        src = export_onnx(loaded.model, tmp / "source-fp32.onnx", cfg.size)
        if cfg.mode == "fp16":
            artifact = tmp / ("model.xml" if cfg.target == "openvino" else "model.onnx")
            info = quantize_onnx(src, artifact, cfg)
        else:
            artifact, info = _int8(cfg, loaded, src, tmp, root, data, val)
        run = open_artifact(artifact, threads=1, hint=info.get("inference_precision_hint", "f32"))
        fid = fidelity(run, *val.pair(direction), reference=load_backend("torch", model, direction=direction))
        speed = measured_speed(artifact, src, cfg, info.get("inference_precision_hint", "f32"))
        src.unlink()
        card = {"name": out.name, "format": artifact.suffix.lstrip("."), "precision": cfg.mode, "target": cfg.target,
                "source": str(loaded.source), "direction": direction, "size": cfg.size, "ct_window": loaded.ct_window,
                "file": artifact.name, "bytes": size_on_disk(artifact), "method": info, "fidelity": fid,
                "precision_per_group": precision_summary(artifact), "speed": speed,
                "data": f"{described}; fidelity on its validation split ({len(val)} slices, "
                        f"{len(set(val.patients))} patients)"}
        resolved = {"model": str(model), "direction": direction, "data": display_path(root), "quant": to_dict(cfg)}
        (tmp / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        write_card(tmp, card)
    return {**card, "out": str(out)}
