"""Slow paths: QAT (NNCF torch; compiles a CPU extension on first use) and NNCF accuracy control."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccg_edge.config import QATConfig, QuantConfig
from sccg_edge.quantize import quantize_artifact


@pytest.mark.slow
@pytest.mark.parametrize("target", ["openvino", "onnx"])
def test_qat_runs_a_few_steps_and_exports(target: str, tiny_generator: Path, tiny_data: Path, tmp_path: Path) -> None:
    cfg = QuantConfig(mode="int8", target=target, size=32, data=str(tiny_data), qat=True, val_max_slices=4,
                      qat_cfg=QATConfig(steps=3, batch_size=2))
    card = quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "qat")
    assert card["method"]["qat"]["steps"] == 3
    assert card["precision_per_group"]["convs"]["int8"] > 0
    assert card["fidelity"]["agreement_psnr"] > 15


@pytest.mark.slow
def test_accuracy_control_records_kept_layers(tiny_generator: Path, tiny_data: Path, tmp_path: Path) -> None:
    cfg = QuantConfig(mode="int8", target="openvino", size=32, data=str(tiny_data), max_psnr_drop=0.01,
                      val_max_slices=4, subset_size=8)
    card = quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "budget")
    assert "quantize_with_accuracy_control" in card["method"]["tool"]
    assert isinstance(card["method"]["kept_higher_precision"], list)
    convs = card["precision_per_group"]["convs"]
    assert convs["fp32"] == len(card["method"]["kept_higher_precision"])
