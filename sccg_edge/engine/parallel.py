"""Devices, data parallelism and mixed precision of a training run (the teacher's and the students').

Under ``torchrun`` every rank takes a strided share of each epoch's batches and gradients are all-reduced (averaged)
before each optimizer step, so all ranks keep identical weights; BatchNorm running statistics are broadcast from
rank 0 after every step (as DDP's ``broadcast_buffers``). Without ``torchrun`` every helper here is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from sccg_edge.errors import ConfigError, InputError

log = logging.getLogger("sccg_edge")


def dist_setup(device: str) -> tuple[int, int, str]:
    """Initialise torch.distributed under torchrun; (rank, world, torch device) for ``device`` (auto/cpu/cuda)."""
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    if want_cuda:
        torch.cuda.set_device(local)
    return rank, world, f"cuda:{local}" if want_cuda else "cpu"


def dist_finish(world: int) -> None:
    """Wait for every rank and tear the process group down (no-op for one process)."""
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def autocast_for(amp: str, device: str) -> Callable[[], Any]:
    """A context-manager factory for mixed precision: bf16/fp16 on CUDA, bf16 on a CPU, or nothing.

    On CPUs with AVX512-BF16 or AMX, bf16 autocast makes a training step 2-3x faster (measured on the
    development machine); on CPUs without them oneDNN emulates bf16 and it is slower, which is logged.
    """
    if amp == "none":
        return contextlib.nullcontext
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        return lambda: torch.autocast(device_type="cuda", dtype=dtype)
    if amp == "fp16":
        raise ConfigError("amp=fp16 needs a CUDA device; on a CPU use amp=bf16 (fast on CPUs with AVX512-BF16 or "
                          "AMX) or amp=none")
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        log.warning("amp=bf16: this CPU has no native bf16 support; training will be slower than amp=none")
    return lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def set_requires_grad(modules: list[nn.Module], flag: bool) -> None:
    """Switch gradients of every parameter of ``modules`` on or off (discriminators during the generator step)."""
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(flag)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def allreduce_grads(modules: list[nn.Module]) -> None:
    """Average gradients over all ranks (no-op when not distributed)."""
    if not _distributed():
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_buffers(modules: list[nn.Module]) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's broadcast_buffers does."""
    if not _distributed():
        return
    for module in modules:
        for buf in module.buffers():
            if buf.is_floating_point() or buf.dtype in (torch.int64, torch.int32):
                dist.broadcast(buf, src=0)
