"""Calibration slices: selection from the calibration split, hashed manifests, and one set adapted per tool.

Calibration slices come only from the *calibration* split (training patients, disjoint from val and test). The
stratified strategy spreads the slices evenly along the head (slice position quantiles from skull base through
the ventricles to the vertex). A manifest lists file ids, anonymous patient ids and sha256 hashes, never names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sccg_edge.config import MIN_CALIBRATION_SLICES
from sccg_edge.data.pairs import PairRecord, list_pairs
from sccg_edge.data.splits import read_manifest, split_records, write_manifest
from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_write_text, check_writable

STRATEGIES = ("stratified", "random")
BANDS = ("skull-base", "ventricles", "vertex")


def slice_positions(records: list[PairRecord]) -> list[float]:
    """Position of each slice along its patient's stack, 0 (first slice, skull base) to 1 (last, vertex)."""
    def number(r: PairRecord) -> int:
        tail = r.name[-3:]
        return int(tail) if tail.isdigit() else r.index

    by_patient: dict[str, list[int]] = {}
    for r in records:
        by_patient.setdefault(r.patient, []).append(number(r))
    out = []
    for r in records:
        nums = sorted(by_patient[r.patient])
        out.append(nums.index(number(r)) / max(len(nums) - 1, 1))
    return out


def band_of(position: float) -> str:
    """Anatomical band of a slice position: lower, middle or upper third of the stack."""
    return BANDS[min(int(position * 3), 2)]


def select_slices(records: list[PairRecord], n: int, strategy: str = "stratified", seed: int = 0) -> list[int]:
    """Indices of ``n`` calibration slices.

    Args:
        records: slices of the calibration split.
        n: how many (all of them when fewer exist).
        strategy: "stratified" (one slice nearest each of ``n`` evenly spaced position quantiles, patients taken
            in turn) or "random".
        seed: random seed.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown calibration strategy '{strategy}'; choose one of: {', '.join(STRATEGIES)}")
    n = min(n, len(records))
    if strategy == "random":
        return sorted(int(i) for i in np.random.default_rng(seed).choice(len(records), n, replace=False))
    pos = np.asarray(slice_positions(records))
    patients = sorted({r.patient for r in records})
    chosen: list[int] = []
    for k, q in enumerate((np.arange(n) + 0.5) / n):
        patient = patients[k % len(patients)]
        cand = [i for i, r in enumerate(records) if i not in chosen and r.patient == patient]
        cand = cand or [i for i in range(len(records)) if i not in chosen]
        chosen.append(min(cand, key=lambda i: abs(pos[i] - q)))
    return sorted(chosen)


def write_calibration_manifest(root: Path, out: Path, n: int = 32, strategy: str = "stratified",
                               seed: int = 0) -> dict[str, Any]:
    """Select calibration slices of the data folder ``root`` and write their manifest to ``out``.

    Returns:
        A summary: manifest path, slice count, patients and slices per anatomical band.
    """
    if n < MIN_CALIBRATION_SLICES:
        raise InputError(f"--size {n} is too small; calibration needs at least {MIN_CALIBRATION_SLICES} slices")
    calib = split_records(list_pairs(Path(root)))["calibration"]
    if len(calib) < MIN_CALIBRATION_SLICES:
        raise InputError(f"the calibration split has only {len(calib)} slices; at least {MIN_CALIBRATION_SLICES} "
                         "are needed (add training patients)", root)
    check_writable(Path(out))
    picked = [calib[i] for i in select_slices(calib, n, strategy, seed)]
    positions = dict(zip([r.name for r in calib], slice_positions(calib)))
    write_manifest(picked, Path(out), "calibration", root=Path(root))
    doc = json.loads(Path(out).read_text())
    doc.update({"strategy": strategy, "seed": seed})
    for entry in doc["slices"]:
        entry["position"] = round(positions[entry["name"]], 4)
        entry["band"] = band_of(positions[entry["name"]])
    doc["bands"] = {b: sum(e["band"] == b for e in doc["slices"]) for b in BANDS}
    atomic_write_text(Path(out), json.dumps(doc, indent=1) + "\n")
    return {"manifest": str(out), "slices": len(picked), "strategy": strategy, "patients": doc["patients"],
            "bands": doc["bands"]}


def read_calibration_manifest(path: Path, root: Path | None = None) -> list[PairRecord]:
    """Read a calibration manifest, refusing val/test slices, missing files and changed files.

    Raises:
        InputError: unreadable manifest, too few slices, slices of val or test patients (named), a file whose
            sha256 changed (named).
    """
    _, records = read_manifest(Path(path), root=root, verify=False)
    data_root = Path(root) if root is not None else Path(json.loads(Path(path).read_text())["root"])
    if data_root.is_dir():
        splits = split_records(list_pairs(data_root))
        held_out = {r.patient: s for s in ("test", "val") for r in splits[s]}
        bad = [f"{r.name} ({held_out[r.patient]} patient {r.patient})" for r in records if r.patient in held_out]
        if bad:
            raise InputError(f"lists {len(bad)} slices of held-out patients: {', '.join(bad[:10])}; calibration must "
                             "come from the calibration split only; regenerate it with `sccg-edge calibrate`", path)
    if len(records) < MIN_CALIBRATION_SLICES:
        raise InputError(f"lists {len(records)} slices; at least {MIN_CALIBRATION_SLICES} are needed", path)
    return read_manifest(Path(path), root=root, verify=True)[1]


class CalibrationSet:
    """Calibration items and a transform, adapted once for each tool (NNCF, ONNX Runtime, torch).

    Args:
        items: anything iterable; ``transform_fn(item)`` must give a (1, 1, S, S) float32 array in [-1, 1].
        transform_fn: item -> model input (default: identity).
        min_size: fewer items raise InputError.
    """

    def __init__(self, items: Iterable[Any], transform_fn: Callable[[Any], np.ndarray] | None = None,
                 min_size: int = MIN_CALIBRATION_SLICES) -> None:
        self.items = list(items)
        self.transform_fn = transform_fn or (lambda item: item)
        if len(self.items) < min_size:
            raise InputError(f"the calibration set has {len(self.items)} slices; at least {min_size} are needed "
                             "(check the calibration manifest or --data)")

    def __len__(self) -> int:
        return len(self.items)

    def arrays(self) -> Iterator[np.ndarray]:
        """Model inputs, (1, 1, S, S) float32."""
        for item in self.items:
            yield np.ascontiguousarray(self.transform_fn(item), dtype=np.float32)

    def to_nncf(self) -> Any:
        """An ``nncf.Dataset`` (inputs as numpy; use :meth:`to_nncf_torch` for torch models)."""
        import nncf

        return nncf.Dataset(self.items, lambda item: np.ascontiguousarray(self.transform_fn(item), np.float32))

    def to_nncf_torch(self) -> Any:
        """An ``nncf.Dataset`` whose inputs are torch tensors."""
        import nncf

        return nncf.Dataset(self.items, lambda item: torch.from_numpy(
            np.ascontiguousarray(self.transform_fn(item), np.float32)))

    def data_reader(self, input_name: str = "input") -> Any:
        """An ONNX Runtime ``CalibrationDataReader`` over the inputs."""
        from onnxruntime.quantization import CalibrationDataReader

        arrays = self.arrays

        class _Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._it = arrays()

            def get_next(self) -> dict[str, np.ndarray] | None:
                x = next(self._it, None)
                return None if x is None else {input_name: x}

            def rewind(self) -> None:
                self._it = arrays()

        return _Reader()

    def forward_loop(self, model: Any) -> None:
        """Run a torch model over every input (for range observers)."""
        with torch.no_grad():
            for x in self.arrays():
                model(torch.from_numpy(x))
