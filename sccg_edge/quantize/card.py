"""Model cards: precision per layer group, size on disk, and fidelity vs the FP32 source on the validation split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.data.pairs import PairRecord
from sccg_edge.errors import InputError

Pair = tuple[np.ndarray, np.ndarray]  # (input, ground truth), each (1, 1, S, S) float32 in [-1, 1]
_CONV_ONNX = ("Conv", "ConvTranspose")
_CONV_OV = ("Convolution", "GroupConvolution", "ConvolutionBackpropData")


def pair_arrays(records: list[PairRecord], direction: str, size: int, ct_window: str = "brain") -> list[Pair]:
    """Load pairs as model arrays: mr2ct maps MR -> CT, ct2mr CT -> MR."""
    from sccg_edge.data.pairs import load_pair
    from sccg_edge.data.transforms import CT_WINDOWS, fit_to_size, unit_to_model

    out = []
    for rec in records:
        ct01, mr01 = load_pair(rec, ct_window=CT_WINDOWS[ct_window])
        ct, mr = (unit_to_model(fit_to_size(a, size)[0]).astype(np.float32)[None, None] for a in (ct01, mr01))
        out.append((mr, ct) if direction == "mr2ct" else (ct, mr))
    return out


def split_pairs(root: Path, split: str, direction: str, size: int, max_slices: int = 0,
                ct_window: str = "brain") -> list[Pair]:
    """Pairs of one patient-level split of the data folder ``root`` (evenly subsampled to ``max_slices``)."""
    from sccg_edge.data.pairs import list_pairs
    from sccg_edge.data.splits import split_records

    records = split_records(list_pairs(Path(root)))[split]
    if not records:
        raise InputError(f"the data folder has no {split} patients; fidelity needs a {split} split", root)
    if 0 < max_slices < len(records):
        records = [records[int(i)] for i in np.linspace(0, len(records) - 1, max_slices).round()]
    return pair_arrays(records, direction, size, ct_window)


def _to_255(x: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(x, dtype=np.float64)[0, 0] + 1.0) * 127.5, 0.0, 255.0)


def fidelity(run: Callable[[np.ndarray], np.ndarray], reference: Callable[[np.ndarray], np.ndarray],
             pairs: list[Pair]) -> dict[str, float]:
    """PSNR/SSIM/MAE (0..255) of ``run`` and of its FP32 ``reference`` vs ground truth, and their agreement PSNR."""
    from sccg_edge.metrics import image_metrics, summarize
    from sccg_edge.metrics.image import psnr

    rows, ref_rows, agree = [], [], []
    for x, gt in pairs:
        out, ref, g = _to_255(run(x)), _to_255(reference(x)), _to_255(gt)
        rows.append(image_metrics(out, g))
        ref_rows.append(image_metrics(ref, g))
        agree.append(min(psnr(out, ref, 255.0), 100.0))
    mine, src = summarize(rows), summarize(ref_rows)
    return {"slices": len(pairs), "psnr": mine["psnr"], "ssim": mine["ssim"], "mae": mine["mae"],
            "fp32_psnr": src["psnr"], "fp32_ssim": src["ssim"], "fp32_mae": src["mae"],
            "psnr_drop": src["psnr"] - mine["psnr"], "ssim_drop": src["ssim"] - mine["ssim"],
            "agreement_psnr": float(np.mean(agree))}


def layer_group(name: str) -> str:
    """Layer group of a node name: "encoder/stem", "blocks/block3", "decoder/up0", "head", ..."""
    parts = [p for p in name.replace(".", "/").split("/") if p]
    if not parts:
        return "other"
    if parts[0] in ("encoder", "blocks", "decoder") and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}"
    return parts[0] if parts[0] in ("head", "encoder", "blocks", "decoder") else "other"


def onnx_precisions(path: Path) -> dict[str, dict[str, int]]:
    """Per layer group, convs whose weights come from DequantizeLinear (int8), are FP16 (fp16), or FP32."""
    import onnx

    model = onnx.load(str(path))
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, dict[str, int]] = {}
    for node in model.graph.node:
        if node.op_type not in _CONV_ONNX:
            continue
        w = node.input[1]
        src = producers.get(w)
        if src is not None and src.op_type == "DequantizeLinear":
            kind = "int8"
        elif w in inits and inits[w].data_type == onnx.TensorProto.FLOAT16:
            kind = "fp16"
        else:
            kind = "fp32"
        bucket = groups.setdefault(layer_group(node.name), {"int8": 0, "fp16": 0, "fp32": 0})
        bucket[kind] += 1
    return groups


def _ov_weight_kind(node: Any, depth: int = 5) -> str:
    src = node.input_value(1).get_node()
    for _ in range(depth):
        kind = src.get_type_name()
        if kind == "FakeQuantize":
            return "int8"
        if kind == "Constant":
            et = src.get_output_element_type(0).get_type_name()
            return "int8" if et in ("i8", "u8", "i4", "u4") else "fp16" if et == "f16" else "fp32"
        src = src.input_value(0).get_node()
    return "fp32"


def openvino_precisions(xml: Path) -> dict[str, dict[str, int]]:
    """Per layer group, convs whose weights are fake-quantized / int8 (int8), FP16-compressed (fp16) or FP32."""
    from sccg_edge.export.openvino import import_openvino

    model = import_openvino().Core().read_model(str(xml))
    groups: dict[str, dict[str, int]] = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() in _CONV_OV:
            bucket = groups.setdefault(layer_group(op.get_friendly_name()), {"int8": 0, "fp16": 0, "fp32": 0})
            bucket[_ov_weight_kind(op)] += 1
    return groups


def precision_summary(model_file: Path) -> dict[str, Any]:
    """Precision per layer group plus totals for an .onnx or .xml file."""
    model_file = Path(model_file)
    groups = onnx_precisions(model_file) if model_file.suffix == ".onnx" else openvino_precisions(model_file)
    totals = {k: sum(g[k] for g in groups.values()) for k in ("int8", "fp16", "fp32")}
    return {"convs": totals, "groups": groups}


def size_on_disk(model_file: Path) -> int:
    """Bytes of the model file plus its OpenVINO .bin."""
    model_file = Path(model_file)
    files = [model_file] + ([model_file.with_suffix(".bin")] if model_file.suffix == ".xml" else [])
    return sum(f.stat().st_size for f in files if f.is_file())


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
