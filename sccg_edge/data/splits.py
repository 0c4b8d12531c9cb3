"""Patient-level train/val/test/calibration splits and hashed slice manifests.

Slices of one patient never land in two of train, val and test. The calibration set (used to pick INT8 ranges)
is drawn from *training* patients only, so it is disjoint from val and test and quantization never sees the
data it is evaluated on.

A manifest lists each slice by file names relative to a root, the sha256 of each file and the anonymous patient
id (the numeric prefix or folder name); it holds no names or IDs from DICOM headers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sccg_edge.data.pairs import PairRecord
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.utils.fs import atomic_write_text

SPLITS = ("train", "val", "test")
MANIFEST_FORMAT = "sccg-edge-manifest/1"


@dataclass(frozen=True)
class SplitSpec:
    """Which patients go where; ``calibration`` must be a subset of ``train``."""

    train: tuple[str, ...]
    val: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    calibration: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for split in SPLITS:
            for patient in getattr(self, split):
                if patient in seen:
                    raise ConfigError(f"patient {patient} is in both {seen[patient]} and {split}; "
                                      "every patient must be in exactly one split")
                seen[patient] = split
        outside = sorted(set(self.calibration) - set(self.train))
        if outside:
            raise ConfigError(f"calibration patients {outside} are not training patients; calibration is drawn "
                              "from training patients only, never from val or test")

    @property
    def patients(self) -> set[str]:
        """All patients named in train, val or test."""
        return set(self.train) | set(self.val) | set(self.test)


#: The split of the shared ``brain-ct-mr-pairs`` (README of the shared data): calibration = patient 32 (training).
DEFAULT_SHARED_SPLIT = SplitSpec(train=("2", "16", "20", "21", "28", "32"), val=("33",), test=("34",),
                                 calibration=("32",))


def auto_split(patients: list[str], seed: int = 0) -> SplitSpec:
    """Deterministic proportional patient split (about 80/10/10) for patients with no fixed split.

    At least one patient trains; val gets one when there are >= 3 patients, test one when there are >= 2. The
    last training patient in the shuffled order is the calibration patient.
    """
    names = sorted(set(patients))
    if not names:
        raise InputError("no patients to split")
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    n = len(order)
    n_test = max(1, round(0.1 * n)) if n >= 2 else 0
    n_val = max(1, round(0.1 * n)) if n >= 3 else 0
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return SplitSpec(train=tuple(sorted(train)), val=tuple(sorted(val)), test=tuple(sorted(test)),
                     calibration=(train[-1],))


def spec_from_lists(train: Sequence[str], val: Sequence[str] = (), test: Sequence[str] = ()) -> SplitSpec | None:
    """A fixed split from lists of patient ids (``DataConfig.*_patients``); None when ``train`` is empty.

    The calibration patient is the last training patient, as in :func:`auto_split`.
    """
    names = {"train": tuple(train), "val": tuple(val), "test": tuple(test)}
    if not names["train"]:
        if names["val"] or names["test"]:
            raise ConfigError("data.val_patients/test_patients are set but data.train_patients is empty; a fixed "
                              "split names its training patients too")
        return None
    return SplitSpec(**names, calibration=names["train"][-1:])


def trains_on_every_patient(train: Sequence[str], val: Sequence[str] = ()) -> bool:
    """True for a run that names its training patients and keeps no validation patient: its recipe was chosen
    elsewhere (cross-validation), so it validates on its own training slices and its final weights are the model."""
    return bool(train) and not val


def split_records(records: list[PairRecord], spec: SplitSpec | None = None,
                  seed: int = 0) -> dict[str, list[PairRecord]]:
    """Split pair records by patient into train/val/test/calibration.

    Args:
        records: pairs from :func:`~sccg_edge.data.pairs.list_pairs`.
        spec: fixed split; by default :data:`DEFAULT_SHARED_SPLIT` when every patient is one of its patients,
            otherwise :func:`auto_split` with ``seed``.
        seed: seed of the automatic split.

    Returns:
        ``{"train", "val", "test", "calibration"}`` -> records, each in the input order.

    Raises:
        ConfigError: ``spec`` does not name every patient of the records, or names one they lack.
    """
    patients = sorted({r.patient for r in records})
    explicit = spec is not None
    if spec is None:
        spec = DEFAULT_SHARED_SPLIT if set(patients) <= DEFAULT_SHARED_SPLIT.patients else auto_split(patients, seed)
    missing = sorted(set(patients) - spec.patients)
    if missing:
        raise ConfigError(f"patients {missing} are in no split; add them to train, val or test")
    if explicit and spec.patients - set(patients):
        raise ConfigError(f"patients {sorted(spec.patients - set(patients))} of the split are not in the data; "
                          f"its patients are {', '.join(patients)}")
    out = {name: [r for r in records if r.patient in getattr(spec, name)] for name in (*SPLITS, "calibration")}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            shared = {r.patient for r in out[a]} & {r.patient for r in out[b]}
            assert not shared, f"patients {shared} leak between {a} and {b}"
    return out


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(records: list[PairRecord], path: Path, split_name: str, root: Path | None = None) -> Path:
    """Write a JSON manifest of the slices with file hashes.

    Args:
        records: the slices of one split.
        path: output JSON file.
        split_name: e.g. "calibration".
        root: folder the file names are relative to (default: the deepest folder holding every file).

    Returns:
        ``path``.
    """
    if not records:
        raise InputError(f"split {split_name!r} has no slices; nothing to write", path)
    files = [p.resolve() for r in records for p in (r.ct, r.mr)]
    root = Path(root).resolve() if root is not None else Path(os.path.commonpath([p.parent for p in files]))
    hashes: dict[Path, str] = {}

    def entry(p: Path) -> tuple[str, str]:
        p = p.resolve()
        if p not in hashes:
            hashes[p] = sha256_file(p)
        return p.relative_to(root).as_posix(), hashes[p]

    slices = []
    for r in records:
        (ct, ct_sha), (mr, mr_sha) = entry(r.ct), entry(r.mr)
        slices.append({"name": r.name, "patient": r.patient, "index": r.index, "ct": ct, "ct_sha256": ct_sha,
                       "mr": mr, "mr_sha256": mr_sha})
    doc = {"format": MANIFEST_FORMAT, "split": split_name, "root": root.as_posix(),
           "patients": sorted({r.patient for r in records}), "slices": slices}
    path = Path(path)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return path


def read_manifest(path: Path, root: Path | None = None, verify: bool = True) -> tuple[str, list[PairRecord]]:
    """Read a manifest back, checking that every file still has the recorded sha256.

    Args:
        path: manifest JSON.
        root: where the files live now (default: the root recorded in the manifest).
        verify: check the hashes.

    Returns:
        (split name, records).

    Raises:
        InputError: unreadable manifest, a missing file, or a file whose content changed.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {MANIFEST_FORMAT!r}")
        base = Path(root) if root is not None else Path(doc["root"])
        slices = doc["slices"]
        records = [PairRecord(name=s["name"], patient=str(s["patient"]), ct=base / s["ct"], mr=base / s["mr"],
                              index=int(s.get("index", 0))) for s in slices]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"is not a readable sccg-edge manifest ({exc}); regenerate it", path) from exc
    if verify:
        checked: dict[Path, str] = {}
        for s, r in zip(slices, records):
            for f, want in ((r.ct, s["ct_sha256"]), (r.mr, s["mr_sha256"])):
                if f not in checked:
                    if not f.is_file():
                        raise InputError(f"is listed in manifest {path} but missing; pass root= where the data "
                                         "lives now, or regenerate the manifest", f)
                    checked[f] = sha256_file(f)
                if checked[f] != want:
                    raise InputError(f"changed since manifest {path} was written (sha256 {checked[f][:12]}... "
                                     f"!= {want[:12]}...); restore the original file or regenerate the manifest", f)
    return str(doc["split"]), records
