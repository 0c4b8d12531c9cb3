"""Export profiles: YAML files in the repository's ``export/`` folder naming target, format, precision and sizes.

A profile is a flat mapping whose keys mirror :class:`ExportProfile`; unknown keys and wrong types are refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sccg_edge.errors import ConfigError

FORMATS = ("onnx", "openvino", "tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportProfile:
    """How one artifact is built.

    Attributes:
        name: profile name (the YAML stem).
        target: free-text device class, e.g. "rtx", "i7", "cpu".
        format: onnx | openvino | tensorrt.
        precision: fp32 | fp16 | int8 (int8 and fp16 need ``sccg-edge quantize``, which writes the source graph).
        sizes: static square input sizes; the first is the default. TensorRT builds one profile per size.
        opset: ONNX opset.
        dynamic_batch: symbolic batch dimension (TensorRT: min/opt/max below).
        min_batch: TensorRT optimization-profile minimum batch.
        opt_batch: TensorRT optimization-profile optimal batch.
        max_batch: TensorRT optimization-profile maximum batch.
        workspace_mb: TensorRT builder workspace limit.
        calibration: calibration manifest for int8 profiles (path relative to the repository).
    """

    name: str = "custom"
    target: str = "cpu"
    format: str = "onnx"
    precision: str = "fp32"
    sizes: tuple[int, ...] = (256,)
    opset: int = 17
    dynamic_batch: bool = False
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 1
    workspace_mb: int = 2048
    calibration: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"profile '{self.name}': unknown format '{self.format}'; choose one of: "
                              f"{', '.join(FORMATS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"profile '{self.name}': unknown precision '{self.precision}'; choose one of: "
                              f"{', '.join(PRECISIONS)}")
        if not self.sizes or any(int(s) <= 0 or int(s) % 4 for s in self.sizes):
            raise ConfigError(f"profile '{self.name}': sizes must be positive multiples of 4, got {self.sizes}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ConfigError(f"profile '{self.name}': need 1 <= min_batch <= opt_batch <= max_batch")


def profiles_root() -> Path:
    """The repository's ``export/`` folder (profiles live there, artifacts under ``export/artifacts/``)."""
    return Path(__file__).resolve().parents[2] / "export"


def profile_names(root: Path | None = None) -> list[str]:
    """Names of the YAML profiles in ``root`` (default :func:`profiles_root`)."""
    root = root or profiles_root()
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def load_profile(name_or_path: str | Path, root: Path | None = None) -> ExportProfile:
    """Load a profile by name (``export/<name>.yaml``) or YAML path.

    Raises:
        ConfigError: unknown name, unreadable YAML, unknown key or wrong type.
    """
    import yaml

    from sccg_edge.config import from_dict

    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = (root or profiles_root()) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown export profile '{name_or_path}'; choose one of: "
                          f"{', '.join(profile_names(root)) or 'none found'} or give a YAML path")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of keys to values")
    raw.setdefault("name", path.stem)
    sizes = raw.pop("sizes", [ExportProfile.sizes[0]])
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        sizes = [sizes]
    if not isinstance(sizes, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise ConfigError(f"{path}: 'sizes' must be a list of integers, got {sizes!r}")
    return dataclasses.replace(from_dict(ExportProfile, raw, str(path)), sizes=tuple(sizes))
