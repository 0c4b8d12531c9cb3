"""ONNX -> TensorRT 10 engine (serialized plan), written against the documented TensorRT 10 Python API.

The network is created STRONGLY_TYPED: precision comes from the ONNX graph itself (Q/DQ nodes for INT8, FP16
tensors for FP16), so the same Q/DQ ONNX that ONNX Runtime runs on any CPU defines the engine's INT8 layers.
TensorRT is an optional extra and is imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sccg_edge.backends import import_runtime
from sccg_edge.config import ExportProfile
from sccg_edge.errors import InputError


def _parse(trt: Any, builder: Any, onnx_path: Path) -> Any:
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, trt.Logger(trt.Logger.WARNING))
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InputError(f"TensorRT could not parse this ONNX file: {errors}", onnx_path)
    return network


def _add_profiles(builder: Any, config: Any, network: Any, profile: ExportProfile) -> None:
    """One optimization profile per size: static 1x1xSxS, or min/opt/max batch when the batch is dynamic."""
    inp = network.get_input(0)
    dynamic = int(inp.shape[0]) == -1
    for size in profile.sizes:
        opt = builder.create_optimization_profile()
        if dynamic:
            shapes = [(b, 1, size, size) for b in (profile.min_batch, profile.opt_batch, profile.max_batch)]
        else:
            shapes = [tuple(int(d) for d in inp.shape)] * 3
        opt.set_shape(inp.name, *shapes)
        config.add_optimization_profile(opt)
        if not dynamic:
            break  # a static graph has exactly one shape


def build_engine(onnx_path: Path, engine_path: Path, profile: ExportProfile) -> Path:
    """Build and serialize a TensorRT engine.

    Args:
        onnx_path: FP32, FP16 or Q/DQ INT8 ONNX (the graph's types decide the layer precisions).
        engine_path: output ``.engine`` file.
        profile: sizes, dynamic batch range and workspace limit.

    Returns:
        ``engine_path``.

    Raises:
        MissingDependencyError: tensorrt is not installed.
        InputError: the ONNX file is missing or TensorRT cannot parse or build it.
    """
    trt = import_runtime("tensorrt", "building a TensorRT engine")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise InputError("ONNX file not found; export one first with `sccg-edge export --format onnx`", onnx_path)
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    network = _parse(trt, builder, onnx_path)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, profile.workspace_mb << 20)
    _add_profiles(builder, config, network, profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise InputError("TensorRT failed to build an engine from this ONNX file (see the TensorRT log above)",
                         onnx_path)
    engine_path = Path(engine_path)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(plan))
    return engine_path
