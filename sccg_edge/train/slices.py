"""In-memory paired slices for training and validation, with a deterministic, resumable batch order.

The shared data set is small (144 pairs of 256x256), so every split is held in memory as float32 tensors in
[-1, 1]. The batch order of epoch ``e`` is a permutation drawn from ``seed`` and ``e`` alone, and augmentation of
sample ``i`` in epoch ``e`` is drawn from ``(seed, e, i)``: a resumed run replays exactly the batches an
uninterrupted run would have seen, without saving any random-number-generator state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sccg_edge.config import DataConfig
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


def resolve_data_root(cfg: DataConfig) -> tuple[Path, str]:
    """The folder of paired slices to use, and a description of it (real shared pairs or the synthetic phantom)."""
    if cfg.root:
        root = Path(cfg.root).expanduser()
        if not root.exists():
            raise InputError("data folder not found; pass --data with a PNG pair folder (ct/, mr/) or a phantom "
                             "folder written by `sccg-edge data phantom`", root)
        return root, f"user data {root}"
    from sccg_edge.data.default import default_pairs_root

    return default_pairs_root()


def load_splits(cfg: DataConfig, seed: int = 0) -> dict[str, SliceSet]:
    """Read every slice of the data folder once and return the patient-level splits as tensors."""
    from sccg_edge.data.pairs import list_pairs, load_pair
    from sccg_edge.data.splits import spec_from_lists, split_records
    from sccg_edge.data.transforms import CT_WINDOWS, fit_to_size, unit_to_model

    root, _ = resolve_data_root(cfg)
    records = list_pairs(root)
    window = CT_WINDOWS[cfg.ct_window]
    out: dict[str, SliceSet] = {}
    spec = spec_from_lists(cfg.train_patients, cfg.val_patients, cfg.test_patients)
    for split, recs in split_records(records, spec, seed=seed).items():
        if not recs:
            continue
        ct, mr = [], []
        for rec in recs:
            ct01, mr01 = load_pair(rec, ct_window=window)
            if cfg.register != "none":
                from sccg_edge.data.register import register_pair

                ct01 = register_pair(ct01, mr01, cfg.register).ct
            ct.append(unit_to_model(fit_to_size(ct01, cfg.size)[0]))
            mr.append(unit_to_model(fit_to_size(mr01, cfg.size)[0]))
        out[split] = SliceSet(
            names=[r.name for r in recs],
            patients=[r.patient for r in recs],
            ct=torch.from_numpy(np.stack(ct)[:, None].astype(np.float32)),
            mr=torch.from_numpy(np.stack(mr)[:, None].astype(np.float32)),
        )
    if "train" not in out:
        raise InputError("no training slices after the patient-level split; the folder needs at least one "
                         "training patient", root)
    return out


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
    import math

    import torch.nn.functional as F

    zoom = 1.0 + float(rng.uniform(-amount, amount))
    angle = math.radians(float(rng.uniform(-100.0 * amount, 100.0 * amount)))
    tx, ty = (float(v) for v in rng.uniform(-amount, amount, size=2))  # grid units: the slice spans [-1, 1]
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    theta = torch.tensor([[cos, -sin, tx], [sin, cos, ty]], dtype=images.dtype).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1.0
    return out[0], out[1]
