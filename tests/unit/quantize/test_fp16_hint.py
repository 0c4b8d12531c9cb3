"""Which OpenVINO inference precision an FP16 IR asks for, by the CPU's capabilities and flags."""

from __future__ import annotations

import pytest

from sccg_edge.quantize import fp16


@pytest.mark.parametrize("caps, flags, hint", [
    (["FP32", "FP16", "BF16"], {"avx512_fp16", "avx512_bf16", "amx_bf16"}, "bf16"),  # Sapphire Rapids: AMX-BF16 wins
    (["FP32", "FP16", "BF16"], {"avx512_fp16", "avx512_bf16", "amx_bf16", "amx_fp16"}, "f16"),  # Granite Rapids
    (["FP32", "BF16"], {"avx512_bf16"}, "bf16"),  # AVX512-BF16 without AMX (e.g. Zen 4)
    (["FP32", "FP16"], {"avx512_fp16"}, "f32"),  # f16 on AVX512-FP16 alone measured slower than f32
    (["FP32", "BF16"], {"avx2"}, "f32"),  # OpenVINO reports BF16 that the CPU only emulates
    (["FP32"], {"avx2", "fma"}, "f32"),
])
def test_inference_hint(monkeypatch, caps, flags, hint) -> None:
    monkeypatch.setattr(fp16, "openvino_cpu_capabilities", lambda: caps)
    monkeypatch.setattr(fp16, "_cpu_flags", lambda: set(flags))
    assert fp16.openvino_inference_hint() == hint
