"""What machine a benchmark ran on: CPU model, ISA flags, cores, runtime versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import torch

ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
RUNTIME_DISTS = {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino", "nncf": "nncf",
                 "tensorrt": "tensorrt", "numpy": "numpy"}


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """CPU model name and the ISA flags of interest from the text of ``/proc/cpuinfo``."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {"cpu_model": model or platform.processor() or "unknown",
            "isa": {flag: flag in flags for flag in ISA_FLAGS}}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(threads: int = 0, device: str = "cpu") -> dict[str, Any]:
    """The "machine" block of results.json."""
    try:
        cpu = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        cpu = parse_cpuinfo("")
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    info: dict[str, Any] = {
        **cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "threads": threads or affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(dist) for name, dist in RUNTIME_DISTS.items()},
        "device": device,
    }
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
