"""PyTorch generator -> ONNX (static 1x1xSxS input "input", output "output"), checked and compared with torch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from sccg_edge.errors import InputError
from sccg_edge.models.generator import Generator

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def export_onnx(model: Generator, path: Path, size: int, opset: int = 17, dynamic_batch: bool = False) -> Path:
    """Export ``model`` (eval mode) to ONNX and validate it with ``onnx.checker``.

    Args:
        model: a generator.
        path: output ``.onnx`` file (its folder is created).
        size: input height and width (a multiple of ``2**n_down``).
        opset: ONNX opset.
        dynamic_batch: make the batch dimension symbolic ("batch"); height and width stay static.

    Returns:
        ``path``.
    """
    import onnx
    import torch

    model.check_input_size(size, size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    x = torch.zeros(1, model.config.in_ch, size, size)  # (1, 1, S, S) in [-1, 1]
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, (x,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          opset_version=opset, dynamic_axes=axes, do_constant_folding=True, dynamo=False)
    model.train(was_training)
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def run_onnx(onnx_path: Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Run an ONNX file on ONNX Runtime CPU: (B, 1, H, W) float32 -> (B, 1, H, W) float32."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    static = isinstance(sess.get_inputs()[0].shape[0], int)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if static and x.shape[0] != 1:
        return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(x.shape[0])])
    return np.asarray(sess.run(None, {name: x})[0], dtype=np.float32)


def check_onnx_parity(model: Generator, onnx_path: Path, x: np.ndarray) -> float:
    """Max absolute difference between torch and ONNX Runtime outputs on ``x`` (B, 1, S, S) in [-1, 1]."""
    import torch

    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()
    return float(np.abs(run_onnx(onnx_path, x) - ref).max())


def onnx_op_counts(onnx_path: Path) -> dict[str, int]:
    """Node count per op type of an ONNX file."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        graph = onnx.load(str(onnx_path)).graph
    except (OSError, ValueError, DecodeError) as err:
        raise InputError(f"not a readable ONNX file ({err})", onnx_path) from None
    return dict(Counter(n.op_type for n in graph.node))
