"""Quantization-aware fine-tuning with NNCF (torch): PTQ init, then distillation to the FP32 source + GT L1.

``nncf.quantize`` on the torch generator inserts trainable fake-quantizers; a short schedule of L1 to the FP32
source's output (distillation) plus L1 to the ground truth recovers fidelity. For OpenVINO the fake-quantized
model converts straight to an IR with FakeQuantize nodes. For ONNX / TensorRT the fine-tuned FP32 weights are
taken back into a plain generator and quantized to Q/DQ by ONNX Runtime (NNCF's native Q/DQ strip needs torchao).

NNCF compiles a small CPU extension on first use (minutes on a slow machine, cached afterwards); the load timeout
is lifted unless ``NNCF_EXTENSION_LOAD_TIMEOUT`` is set.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any

import numpy as np
import torch

from sccg_edge.config import QATConfig
from sccg_edge.data.slices import SliceSet
from sccg_edge.models.generator import Generator
from sccg_edge.quantize.calibration import CalibrationSet


def prepare_qat(model: Generator, calib: CalibrationSet, subset_size: int = 64) -> Any:
    """A fake-quantized, trainable copy of ``model`` (NNCF PTQ initialisation)."""
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "0")
    import nncf

    return nncf.quantize(copy.deepcopy(model).eval(), calib.to_nncf_torch(), subset_size=min(subset_size, len(calib)))


def finetune_qat(qmodel: Any, source: Generator, train: SliceSet, direction: str, cfg: QATConfig) -> dict[str, Any]:
    """Fine-tune ``qmodel`` in place on the training pairs of ``direction``; returns steps run, seconds and the last
    losses."""
    src, tgt = train.pair(direction)
    if not len(src):
        return {"steps": 0, "seconds": 0.0}
    torch.manual_seed(cfg.seed)
    source = source.eval()
    opt = torch.optim.Adam([p for p in qmodel.parameters() if p.requires_grad], lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    qmodel.train()
    start, step, losses = time.monotonic(), 0, {}
    while step < cfg.steps and (time.monotonic() - start) < cfg.max_minutes * 60:
        idx = rng.choice(len(src), size=min(cfg.batch_size, len(src)), replace=False)
        x = torch.from_numpy(src[idx])  # (B, 1, S, S) in [-1, 1]
        gt = torch.from_numpy(tgt[idx])
        with torch.no_grad():
            teacher = source(x)
        out = qmodel(x)
        distill, gt_l1 = (out - teacher).abs().mean(), (out - gt).abs().mean()
        loss = cfg.lambda_distill * distill + cfg.lambda_gt * gt_l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        losses = {"distill_l1": float(distill), "gt_l1": float(gt_l1)}
    qmodel.eval()
    return {"steps": step, "seconds": round(time.monotonic() - start, 1), **losses}


def plain_weights(qmodel: Any, like: Generator) -> Generator:
    """A plain FP32 generator holding the fine-tuned weights of a fake-quantized model."""
    plain = copy.deepcopy(like).eval()
    own = plain.state_dict()
    tuned = {k: v for k, v in qmodel.state_dict().items() if k in own and v.shape == own[k].shape}
    missing = sorted(set(own) - set(tuned))
    if missing:
        raise RuntimeError(f"fine-tuned model lacks generator weights {missing[:5]}")
    plain.load_state_dict(tuned)
    return plain
