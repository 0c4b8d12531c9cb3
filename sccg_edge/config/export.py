"""Configuration of ``sccg-edge export``: profiles (YAML files in the repository's ``export/`` folder naming target,
format, precision and sizes) and :class:`ExportConfig`, one export of one generator direction.

A profile is a flat mapping whose keys mirror :class:`ExportProfile`; unknown keys and wrong types are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sccg_edge.config.bounds import SIZE_MAX, bounded
from sccg_edge.config.loader import from_dict, normalize, read_yaml_mapping
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
    sizes: tuple[int, ...] = bounded((256,), 16, SIZE_MAX, multiple=4)
    opset: int = bounded(17, 7, 30)
    dynamic_batch: bool = False
    min_batch: int = bounded(1, 1, 4096)
    opt_batch: int = bounded(1, 1, 4096)
    max_batch: int = bounded(1, 1, 4096)
    workspace_mb: int = bounded(2048, 1, 1 << 20)
    calibration: str = ""

    def __post_init__(self) -> None:
        normalize(self)
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
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = (root or profiles_root()) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown export profile '{name_or_path}'; choose one of: "
                          f"{', '.join(profile_names(root)) or 'none found'} or give a YAML path")
    raw = read_yaml_mapping(path, "profile")
    raw.setdefault("name", path.stem)
    return from_dict(ExportProfile, raw, str(path))


def resolve_profile(fmt: str | None, profile: str | None, size: int = 0) -> ExportProfile:
    """The profile named by ``profile`` (its format must agree with ``fmt``) or a plain FP32 one for ``fmt``."""
    if profile:
        prof = load_profile(profile)
        if fmt and fmt != prof.format:
            raise ConfigError(f"--format {fmt} disagrees with profile '{prof.name}' (format {prof.format})")
    elif fmt in FORMATS:
        prof = ExportProfile(name=f"{fmt}-fp32", format=fmt)
    else:
        raise ConfigError(f"unknown --format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    return replace(prof, sizes=(size, *[s for s in prof.sizes if s != size])) if size else prof


@dataclass(frozen=True)
class ExportConfig:
    """One export: the generator direction, the profile, and the data its fidelity is checked on."""

    direction: str = "mr2ct"
    profile: ExportProfile = field(default_factory=ExportProfile)
    data: str = ""  # paired data folder for the fidelity check (empty: the default data)
    val_max_slices: int = 8  # validation slices of the fidelity check

    def __post_init__(self) -> None:
        normalize(self)
