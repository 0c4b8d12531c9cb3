"""Check the CT-onto-MR registration of the shared pairs before training on it (issue 12).

    python benchmarks/registration_check.py --kind rigid --out benchmarks/results/<date>_registration

Registers every pair (``sccg_edge.data.register.register_pair``, cached) and writes ``report.md`` / ``pairs.csv``:
per patient, how many fits were accepted, the motion they found, Mattes mutual information and the CT/MR head-mask
IoU before and after; and ``overlays.png``: for a middle slice of every patient, the MR with the CT head outline
before (red) and after (green) registration, so the fit can be looked at, not only scored.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from sccg_edge.data.default import default_pairs_root
from sccg_edge.data.pairs import list_pairs, load_pair
from sccg_edge.data.register import register_pair
from sccg_edge.metrics import head_mask_from_uint8


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return mask & ~inner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="rigid", choices=("rigid", "affine"))
    ap.add_argument("--data", default="", help="pair folder (default: the shared pairs)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    root = Path(args.data) if args.data else default_pairs_root()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, tiles = [], {}
    records = list_pairs(root)
    for i, rec in enumerate(records):
        ct, mr = load_pair(rec)
        reg = register_pair(ct, mr, args.kind)
        mr_head = head_mask_from_uint8(mr * 255.0)
        before, after = head_mask_from_uint8(ct * 255.0), head_mask_from_uint8(reg.ct * 255.0)
        rows.append({"pair": rec.name, "patient": rec.patient, "accepted": reg.accepted, "reason": reg.reason,
                     "mi_before": round(reg.mi_before, 4), "mi_after": round(reg.mi_after, 4),
                     "rotation_deg": round(reg.rotation_deg, 2), "shift_px": round(reg.shift_px, 2),
                     "scale": round(reg.scale, 4), "iou_before": round(_iou(before, mr_head), 4),
                     "iou_after": round(_iou(after, mr_head), 4)})
        same_patient = [r for r in records if r.patient == rec.patient]
        if rec is same_patient[len(same_patient) // 2]:
            rgb = np.repeat((mr * 255.0).astype(np.uint8)[..., None], 3, axis=2)
            rgb[_outline(before)] = (255, 40, 40)
            rgb[_outline(after)] = (40, 255, 40)
            tiles[rec.patient] = rgb
        print(f"\r{i + 1}/{len(records)} pairs", end="", flush=True)
    print()
    with (out / "pairs.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    per = _per_patient(rows)
    (out / "summary.json").write_text(json.dumps({"kind": args.kind, "patients": per}, indent=2))
    _overlays(tiles, out / "overlays.png")
    (out / "report.md").write_text(_report(per, args.kind))


def _per_patient(rows: list[dict]) -> list[dict]:
    out = []
    for p in sorted({r["patient"] for r in rows}, key=lambda s: int(s) if s.isdigit() else 0):
        rs = [r for r in rows if r["patient"] == p]
        acc = [r for r in rs if r["accepted"]]
        out.append({"patient": p, "pairs": len(rs), "accepted": len(acc),
                    "median_shift_px": float(np.median([r["shift_px"] for r in acc])) if acc else 0.0,
                    "median_rotation_deg": float(np.median([abs(r["rotation_deg"]) for r in acc])) if acc else 0.0,
                    "mi_before": float(np.mean([r["mi_before"] for r in rs])),
                    "mi_after": float(np.mean([r["mi_after"] if r["accepted"] else r["mi_before"] for r in rs])),
                    "iou_before": float(np.mean([r["iou_before"] for r in rs])),
                    "iou_after": float(np.mean([r["iou_after"] for r in rs]))})
    return out


def _overlays(tiles: dict[str, np.ndarray], path: Path) -> None:
    row = np.concatenate([tiles[p] for p in sorted(tiles, key=lambda s: int(s) if s.isdigit() else 0)], axis=1)
    Image.fromarray(row).save(path)


def _report(per: list[dict], kind: str) -> str:
    lines = [f"# Registration check ({kind}, CT onto MR, Mattes mutual information, couch removed)", "",
             "`python benchmarks/registration_check.py --kind " + kind + " --out <this folder>`", "",
             "| patient | pairs | accepted | median shift px | median abs rotation deg | MI before -> after "
             "| head IoU CT/MR before -> after |", "|---|---|---|---|---|---|---|"]
    for p in per:
        lines.append(f"| {p['patient']} | {p['pairs']} | {p['accepted']} | {p['median_shift_px']:.2f} | "
                     f"{p['median_rotation_deg']:.2f} | {p['mi_before']:.4f} -> {p['mi_after']:.4f} | "
                     f"{p['iou_before']:.4f} -> {p['iou_after']:.4f} |")
    lines += ["", "`overlays.png`: a middle slice of each patient (in the order above), MR with the CT head outline "
              "before (red) and after (green) registration. `pairs.csv`: every pair.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
