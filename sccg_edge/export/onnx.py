"""PyTorch generator -> ONNX (static 1x1xSxS input "input", output "output"), checked and compared with torch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError

from sccg_edge.backends import Run, load_backend, run_batched
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


def check_onnx_parity(reference: Generator | Run, onnx_path: Path, x: np.ndarray) -> float:
    """Max absolute difference between ``reference`` (a generator, run by the torch backend) and ONNX Runtime on
    ``x`` (B, 1, S, S) in [-1, 1], one slice at a time (an exported graph has a static batch of 1)."""
    ref = load_backend("torch", reference) if isinstance(reference, torch.nn.Module) else reference
    ort = load_backend("onnxruntime", onnx_path, threads=1)
    return float(np.abs(run_batched(ort, x) - run_batched(ref, x)).max())


def onnx_op_counts(onnx_path: Path) -> dict[str, int]:
    """Node count per op type of an ONNX file."""
    try:
        graph = onnx.load(str(onnx_path)).graph
    except (OSError, ValueError, DecodeError) as err:
        raise InputError(f"not a readable ONNX file ({err})", onnx_path) from None
    return dict(Counter(n.op_type for n in graph.node))
