"""Configuration of ``sccg-edge quantize`` and ``calibrate`` (frozen dataclasses, refused unknown keys)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sccg_edge.config.bounds import SIZE_MAX, bounded
from sccg_edge.config.loader import normalize
from sccg_edge.errors import ConfigError

TARGETS = ("openvino", "onnx", "tensorrt")
MODES = ("fp16", "int8")
CALIBRATE_METHODS = ("minmax", "entropy", "percentile")
MIN_CALIBRATION_SLICES = 4


@dataclass(frozen=True)
class QATConfig:
    """Quantization-aware fine-tuning: distillation to the FP32 source plus ground-truth L1.

    The defaults finish in well under 30 minutes on a 2-core CPU for student-s at 256x256 (about 1 s a step).
    """

    steps: int = 300
    batch_size: int = bounded(2, 1, 4096)
    lr: float = bounded(1e-5, 0.0, 1.0, lo_open=True)
    lambda_distill: float = 1.0  # L1 to the FP32 source's output
    lambda_gt: float = 0.5  # L1 to the ground truth
    max_minutes: float = 25.0  # stop early once this much wall time has passed
    seed: int = 0

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class QuantConfig:
    """One quantization run.

    Attributes:
        mode: fp16 | int8.
        target: openvino | onnx | tensorrt (onnx and tensorrt share the Q/DQ / FP16 ONNX).
        size: static input size of the artifact.
        calibration: calibration manifest (int8); empty: select one on the fly from the data's calibration split.
        data: paired data folder for validation (empty: the default data).
        subset_size: calibration slices used by NNCF.
        preset: NNCF preset, performance (symmetric) | mixed (asymmetric activations).
        calibrate_method: ONNX Runtime calibration: minmax | entropy | percentile (default: percentile, which on
            the reference student halves the Q/DQ model's disagreement with FP32 against minmax).
        keep_fp32: Q/DQ ONNX: layer groups whose convolutions stay FP32 (head, encoder/stem, blocks/block0, ...;
            empty: quantize every convolution). Default: the first and the last convolution (encoder/stem, head),
            whose few input or output channels run slower in ONNX Runtime's INT8 kernels than in FP32 and whose
            8-bit activations cost the most fidelity (benchmarks/results/2026-12-05_ort_int8).
        max_psnr_drop: > 0 switches OpenVINO INT8 to NNCF accuracy control with this absolute PSNR budget (dB).
        val_max_slices: validation slices used for fidelity (0: all).
        qat: fine-tune the quantized model (int8 only).
        qat_cfg: QAT knobs.
        speed_rounds: interleaved timing rounds of the artifact against its FP32 source on the same runtime, to say
            which is fastest on this CPU, and of a Q/DQ ONNX at ONNX Runtime's two graph optimisation levels, to
            record the faster one in the file (0: skip both).
        inference_hint: OpenVINO fp16 hint: auto (bf16 on AMX-BF16/AVX512-BF16, f16 on AMX-FP16, see
            :func:`~sccg_edge.quantize.fp16.openvino_inference_hint`) | none.
    """

    mode: str = "int8"
    target: str = "openvino"
    size: int = bounded(256, 16, SIZE_MAX, multiple=4)
    calibration: str = ""
    data: str = ""
    subset_size: int = bounded(64, 1, 100_000)
    preset: str = "performance"
    calibrate_method: str = "percentile"
    keep_fp32: tuple[str, ...] = ("encoder/stem", "head")
    max_psnr_drop: float = 0.0
    val_max_slices: int = 16
    qat: bool = False
    qat_cfg: QATConfig = field(default_factory=QATConfig)
    inference_hint: str = "auto"
    speed_rounds: int = 10

    def __post_init__(self) -> None:
        normalize(self)
        checks = (("mode", MODES), ("target", TARGETS), ("calibrate_method", CALIBRATE_METHODS),
                  ("preset", ("performance", "mixed")), ("inference_hint", ("auto", "none")))
        for key, allowed in checks:
            if getattr(self, key) not in allowed:
                raise ConfigError(f"unknown {key} '{getattr(self, key)}'; choose one of: {', '.join(allowed)}")
        if self.qat and self.mode != "int8":
            raise ConfigError("--qat needs --int8 (quantization-aware training fine-tunes an INT8 model)")
        groups = ("head", "encoder", "blocks", "decoder")
        bad = [g for g in self.keep_fp32 if g.split("/")[0] not in groups]
        if bad:
            raise ConfigError(f"unknown layer group(s) in keep_fp32: {', '.join(bad)}; use head, encoder, blocks, "
                              "decoder or one of their members such as blocks/block0")
        if self.max_psnr_drop < 0:
            raise ConfigError(f"--max-psnr-drop must be >= 0, got {self.max_psnr_drop}")
        if self.size <= 0 or self.size % 4:
            raise ConfigError(f"--size must be a positive multiple of 4, got {self.size}")
