"""CPU time per teacher training step for each recipe lever (issue 12: "measure steps per second for each").

    python benchmarks/step_speed.py --out benchmarks/results/<date>_step_speed [--threads 1] [--steps 5]

Every case is the `cpu` recipe (batch 4, whole 256x256 slices of the shared pairs or the phantom) plus overrides;
each runs ``--warmup`` steps, then ``--steps`` timed steps of ``train_step`` with the trainer's own networks, losses,
autocast and memory layout. The figure is CPU seconds of this process per step (``time.process_time``), which other
work on the machine does not inflate the way it inflates wall time; wall seconds are recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sccg_edge.bench.machine import machine_info
from sccg_edge.config import load_recipe
from sccg_edge.data.slices import load_splits, make_batch
from sccg_edge.engine.parallel import autocast_for
from sccg_edge.train.teacher import build_networks, train_step

BASE = {"data.crop": 0, "loss.lambda_cyc": 0.0, "loss.pix_floor": 1.0}
CASES: dict[str, dict] = {
    "cycle (cpu recipe, whole slices)": {"loss.lambda_cyc": 10.0},
    "paired fp32": {"amp": "none"},
    "paired bf16": {},
    "paired bf16 channels_last": {"channels_last": True},
    "paired bf16, no SC loss": {"loss.lambda_str": 0.0},
    "paired bf16 + SSIM": {"loss.lambda_ssim": 50.0},
    "paired bf16 + conditional D": {"loss.conditional_d": True},
    "paired bf16 + EMA": {"ema": 0.995},
    "paired bf16 U-Net": {"model.generator": "unet", "model.ngf": 0, "model.n_blocks": 0},
    "paired bf16 128 crops": {"data.crop": 128},
}


def time_case(overrides: dict, threads: int, warmup: int, steps: int) -> dict:
    cfg = load_recipe("cpu", overrides={**BASE, "amp": "bf16", "threads": threads, **overrides})
    torch.set_num_threads(threads)
    train = load_splits(cfg.data)["train"]
    nets = build_networks(cfg, seed=0)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for m in nets.as_dict().values():
        m.to(memory_format=layout).train()
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam([p for g in nets.generators() for p in g.parameters()], lr=1e-4, betas=betas)
    opt_d = torch.optim.Adam([p for d in nets.discriminators() for p in d.parameters()], lr=1e-4, betas=betas)
    autocast = autocast_for(cfg.amp, "cpu")
    cpu, wall = [], []
    for i in range(warmup + steps):
        mr, ct = make_batch(train, list(range(i * 4, i * 4 + 4)), 0, 0, cfg.data)
        mr, ct = mr.contiguous(memory_format=layout), ct.contiguous(memory_format=layout)
        c0, w0 = time.process_time(), time.perf_counter()
        train_step(nets, opt_g, opt_d, mr, ct, cfg, autocast)
        if i >= warmup:
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    cpu.sort()
    wall.sort()
    return {"overrides": overrides, "cpu_s_per_step": round(cpu[len(cpu) // 2], 3),
            "wall_s_per_step": round(wall[len(wall) // 2], 3), "steps_per_cpu_minute": round(60 / cpu[len(cpu) // 2], 2),
            "crop": cfg.data.crop or cfg.data.size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, overrides in CASES.items():
        rows[name] = time_case(overrides, args.threads, args.warmup, args.steps)
        print(f"{name}: {rows[name]['cpu_s_per_step']} CPU s/step", flush=True)
    info = machine_info(threads=args.threads)
    (out / "results.json").write_text(json.dumps({"machine": info, "threads": args.threads, "batch": 4,
                                                  "median_of": args.steps, "cases": rows}, indent=2))
    base = rows["paired bf16"]["cpu_s_per_step"]
    lines = ["# CPU time per teacher training step, per recipe lever", "",
             f"`python benchmarks/step_speed.py --out <this folder> --threads {args.threads} --steps {args.steps}`", "",
             f"Machine: {info['cpu_model']} (AMX: {info['isa'].get('amx_tile')}, AVX512-BF16: "
             f"{info['isa'].get('avx512_bf16')}); {args.threads} thread(s); batch 4 of the `cpu` recipe; median of "
             f"{args.steps} steps after {args.warmup} warm-up steps. Relative to 'paired bf16' (whole slices, no cycle).",
             "", "| case | crop | CPU s / step | steps per CPU minute | vs paired bf16 | wall s / step |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['crop']} | {r['cpu_s_per_step']:.3f} | {r['steps_per_cpu_minute']:.2f} | "
                     f"{r['cpu_s_per_step'] / base:.2f}x | {r['wall_s_per_step']:.3f} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
