"""In-memory paired slices of every patient-level split, with a deterministic, resumable batch order.

Every stage reads its slices here (training, validation, evaluation, quantization cards, bench, review). The shared
data set is small (144 pairs of 256x256), so every split is held in memory as float32 tensors in [-1, 1], instead of
STYLE.md's ``Dataset`` classes read by a ``DataLoader``. The batch order of epoch ``e`` is a permutation drawn from ``seed`` and ``e`` alone, and augmentation of
sample ``i`` in epoch ``e`` is drawn from ``(seed, e, i)``: a resumed run replays exactly the batches an
uninterrupted run would have seen, without saving any random-number-generator state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sccg_edge.config.data import DataConfig
from sccg_edge.data.default import default_pairs_root, describe_folder
from sccg_edge.data.pairs import PairRecord, list_pairs, load_pair
from sccg_edge.data.register import register_pair
from sccg_edge.data.splits import spec_from_lists, split_records
from sccg_edge.data.transforms import CT_WINDOWS, fit_to_size, unit_to_model
from sccg_edge.errors import InputError


@dataclass
class SliceSet:
    """Paired slices of one split: ``ct`` and ``mr`` are (N, 1, S, S) float32 in [-1, 1]."""

    names: list[str]
    patients: list[str]
    ct: torch.Tensor
    mr: torch.Tensor

    def __len__(self) -> int:
        return len(self.names)

    def pair(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(input, ground truth) of ``direction`` as numpy arrays: (mr, ct) for mr2ct, (ct, mr) for ct2mr."""
        src, tgt = (self.mr, self.ct) if direction == "mr2ct" else (self.ct, self.mr)
        return src.numpy(), tgt.numpy()

    def subset(self, idx: Iterable[int]) -> SliceSet:
        """The slices at ``idx``, in that order."""
        idx = [int(i) for i in idx]
        return SliceSet(names=[self.names[i] for i in idx], patients=[self.patients[i] for i in idx],
                        ct=self.ct[idx], mr=self.mr[idx])

    def spread(self, limit: int) -> SliceSet:
        """At most ``limit`` slices spread evenly along the set (0: all of them)."""
        return self.subset(evenly_spaced(len(self), limit))


def evenly_spaced(n: int, limit: int) -> list[int]:
    """Indices of at most ``limit`` of ``n`` items spread evenly from the first to the last (0: every item)."""
    if not 0 < limit < n:
        return list(range(n))
    return np.unique(np.linspace(0, n - 1, num=limit).round().astype(int)).tolist()


def resolve_data_root(cfg: DataConfig) -> tuple[Path, str]:
    """The folder of paired slices to use, and a description of it (real shared pairs or the synthetic phantom)."""
    if cfg.root:
        root = Path(cfg.root).expanduser()
        if not root.exists():
            raise InputError("data folder not found; pass --data with a PNG pair folder (ct/, mr/) or a phantom "
                             "folder written by `sccg-edge data phantom`", root)
        return root, describe_folder(root)
    return default_pairs_root()


def load_splits(cfg: DataConfig, seed: int = 0, only: str | None = None) -> dict[str, SliceSet]:
    """Read the slices of the data folder once and return the patient-level splits as tensors.

    Args:
        cfg: the data folder, slice size, CT window and (optionally) a fixed patient split.
        seed: seed of the automatic patient split.
        only: read this split alone (the others are left out of the result).
    """
    root, _ = resolve_data_root(cfg)
    records = list_pairs(root)
    spec = spec_from_lists(cfg.train_patients, cfg.val_patients, cfg.test_patients)
    splits = split_records(records, spec, seed=seed)
    out = {name: slice_set(recs, cfg.size, cfg.ct_window, cfg.register) for name, recs in splits.items()
           if recs and (only is None or name == only)}
    if only is None and "train" not in out:
        raise InputError("no training slices after the patient-level split; the folder needs at least one "
                         "training patient", root)
    return out


def slice_set(records: list[PairRecord], size: int, ct_window: str = "brain", register: str = "none") -> SliceSet:
    """Read pair records into a :class:`SliceSet`: each slice through ``ct_window`` (DICOM CT), its CT registered onto
    its MR when ``register`` is rigid or affine (:mod:`sccg_edge.data.register`), fitted to ``size``."""
    window = CT_WINDOWS[ct_window]
    ct, mr = [], []
    for rec in records:
        ct01, mr01 = load_pair(rec, ct_window=window)
        if register != "none":
            ct01 = register_pair(ct01, mr01, register).ct
        ct.append(unit_to_model(fit_to_size(ct01, size)[0]))
        mr.append(unit_to_model(fit_to_size(mr01, size)[0]))
    return SliceSet(names=[r.name for r in records], patients=[r.patient for r in records],
                    ct=torch.from_numpy(np.stack(ct)[:, None].astype(np.float32)),
                    mr=torch.from_numpy(np.stack(mr)[:, None].astype(np.float32)))


def load_train_val(cfg: DataConfig, seed: int = 0) -> tuple[SliceSet, SliceSet]:
    """The training and validation slices of a run (the training slices validate when there is no val split)."""
    splits = load_splits(cfg, seed=seed)
    return splits["train"], splits.get("val") or splits["train"]


def load_split(cfg: DataConfig, split: str, limit: int = 0, seed: int = 0) -> SliceSet:
    """One patient-level split (at most ``limit`` slices spread along it; 0: all), read alone.

    Raises:
        InputError: the data has no patients in ``split``.
    """
    sets = load_splits(cfg, seed=seed, only=split)
    if split not in sets:
        root, _ = resolve_data_root(cfg)
        raise InputError(f"the data folder has no {split} patients; this needs a {split} split", root)
    return sets[split].spread(limit)


def epoch_order(n: int, epoch: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Sample indices of ``epoch`` for ``rank``: a seeded permutation, padded to a multiple of ``world``, strided."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=gen).tolist()
    pad = (-len(perm)) % world
    perm = perm + perm[:pad]
    return perm[rank::world]


def make_batch(data: SliceSet, idx: list[int], epoch: int, seed: int, cfg: DataConfig,
               unpaired_shift: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack samples ``idx`` with their deterministic crop/flip; returns (mr, ct), each (B, 1, C, C)."""
    mrs, cts = [], []
    n, size = len(data), data.ct.shape[-1]
    crop = cfg.crop if 0 < cfg.crop < size else size
    for i in idx:
        rng = np.random.default_rng([seed, epoch, i])
        y, x = (int(v) for v in rng.integers(0, size - crop + 1, size=2))
        flip = cfg.flip and bool(rng.integers(0, 2))
        j = (i + unpaired_shift) % n  # unpaired training pairs each MR with another slice's CT
        mr_full, ct_full = data.mr[i], data.ct[j]
        if cfg.affine > 0:  # drawn after crop and flip, so a run without it keeps the same crops and flips
            mr_full, ct_full = random_affine(torch.stack([mr_full, ct_full]), rng, cfg.affine)
        mr = mr_full[:, y:y + crop, x:x + crop]
        ct = ct_full[:, y:y + crop, x:x + crop]
        if flip:
            mr, ct = mr.flip(-1), ct.flip(-1)
        mrs.append(mr)
        cts.append(ct)
    return torch.stack(mrs), torch.stack(cts)


def random_affine(images: torch.Tensor, rng: np.random.Generator, amount: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One random zoom/rotation/shift applied identically to a (2, 1, S, S) pair in [-1, 1]; returns both images.

    Zoom is ``1 +- amount``, rotation ``+- 100 * amount`` degrees and shift ``+- amount / 2`` of the slice, each
    uniform; bilinear resampling; what enters from outside the slice is background (-1). It teaches the generator
    heads of other sizes and positions than the few training patients have.
    """
    zoom = 1.0 + float(rng.uniform(-amount, amount))
    angle = math.radians(float(rng.uniform(-100.0 * amount, 100.0 * amount)))
    tx, ty = (float(v) for v in rng.uniform(-amount, amount, size=2))  # grid units: the slice spans [-1, 1]
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    theta = torch.tensor([[cos, -sin, tx], [sin, cos, ty]], dtype=images.dtype).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1.0
    return out[0], out[1]
