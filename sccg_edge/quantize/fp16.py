"""FP16 artifacts: ONNX with FP32 islands (for TensorRT / ONNX Runtime) and FP16-compressed OpenVINO IR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from sccg_edge.backends import import_runtime
from sccg_edge.backends.runtimes import openvino_cpu_capabilities
from sccg_edge.export import to_openvino

#: Op types kept in FP32 in the FP16 ONNX: normalisation statistics and the output squashing are range-sensitive.
FP32_OPS = ("InstanceNormalization", "Tanh")


def fp32_block_list(model: Any) -> list[str]:
    """Names of nodes kept in FP32: every InstanceNormalization and Tanh, and the final convolution."""
    nodes = list(model.graph.node)
    keep = [n.name for n in nodes if n.op_type in FP32_OPS]
    convs = [n.name for n in nodes if n.op_type in ("Conv", "ConvTranspose")]
    return keep + convs[-1:]


def onnx_to_fp16(src: Path, dst: Path) -> dict[str, Any]:
    """Convert an FP32 ONNX to FP16 with FP32 inputs/outputs and the :func:`fp32_block_list` nodes in FP32.

    Returns:
        ``{"kept_fp32": [node names], "tool": ...}``.
    """
    import_runtime("onnxruntime", "FP16 ONNX conversion")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    keep = fp32_block_list(model)
    half = convert_float_to_float16(model, keep_io_types=True, node_block_list=keep)
    _toposort(half.graph)  # the converter appends its input casts at the end of the node list
    onnx.checker.check_model(half)
    onnx.save(half, str(dst))
    return {"kept_fp32": keep, "tool": "onnxruntime.transformers.float16.convert_float_to_float16"}


def _toposort(graph: Any) -> None:
    """Reorder ``graph.node`` in place so that every node comes after the producers of its inputs."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = [n for n in pending if not all(i in ready for i in n.input)]
        done = [n for n in pending if all(i in ready for i in n.input)]
        if not done:
            raise ValueError("graph has a cycle or an undefined input")
        for n in done:
            ready.update(n.output)
        ordered += done
        pending = rest
    copies = [type(n)() for n in ordered]
    for c, n in zip(copies, ordered):
        c.CopyFrom(n)
    del graph.node[:]
    graph.node.extend(copies)


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def openvino_inference_hint() -> str:
    """OpenVINO CPU inference precision to use with an FP16 IR: the fastest half precision the CPU runs natively.

    AMX-FP16 -> "f16"; AMX-BF16 or AVX512-BF16 -> "bf16"; otherwise "f32" (the FP16 weights are widened). AVX512-FP16
    alone does not choose f16: on a Sapphire Rapids Xeon (AVX512-FP16 and AMX-BF16, no AMX-FP16) OpenVINO's f16 ran
    1.7-2x slower than f32 and bf16 3-6x faster, at the same PSNR within 0.01 dB (benchmarks/results/2026-11-25_cpu).
    OpenVINO may report BF16 on CPUs that only emulate it, so the CPU flags must agree with its capabilities.
    """
    caps, flags = set(openvino_cpu_capabilities()), _cpu_flags()
    if "FP16" in caps and "amx_fp16" in flags:
        return "f16"
    if "BF16" in caps and flags & {"avx512_bf16", "amx_bf16"}:
        return "bf16"
    return "f32"


def openvino_fp16(onnx_path: Path, xml: Path, hint: str = "auto") -> dict[str, Any]:
    """FP16-compressed OpenVINO IR; records the inference precision hint chosen for this CPU.

    The hint is stored in the IR's ``runtime_options`` rt_info so OpenVINO applies it when compiling.
    """
    ov = import_runtime("openvino", "an FP16 OpenVINO IR")
    model = ov.convert_model(str(onnx_path))
    chosen = openvino_inference_hint() if hint == "auto" else "f32"
    if chosen != "f32":
        model.set_rt_info(chosen, ["runtime_options", "INFERENCE_PRECISION_HINT"])
    to_openvino(model, xml, compress_to_fp16=True)
    return {"inference_precision_hint": chosen, "weights": "fp16"}
