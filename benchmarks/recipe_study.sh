#!/usr/bin/env bash
# The teacher recipe study (issue 12): every variant is the `cpu` recipe of 2026-11-25 (frozen in
# benchmarks/study/cpu-2026-11-25.yaml; the study made p1 the new `cpu` recipe) plus overrides, cross-validated over patient
# folds at the same compute budget per fold (`sccg-edge cv`), two folds at a time with one thread each. Resumable: run it again after a stop.
#   PATH=$(./run.sh env)/bin:$PATH bash benchmarks/recipe_study.sh [VARIANT ...]      (default: every variant)
#   FOLDS="1 3" BUDGET=20 bash benchmarks/recipe_study.sh p1                          (screening folds / budget)
# The budget counts CPU minutes of each training process (budget_clock=cpu, one thread), so other work on the machine
# slows a fold down but does not change how much compute it gets.
# Results: runs/study/<variant>/ (cv.json, report.md, curves); the table: python benchmarks/recipe_study.py.
set -euo pipefail
BUDGET="${BUDGET:-15}"
FOLDS="${FOLDS:-1 3}"
COMMON=(--recipe benchmarks/study/cpu-2026-11-25.yaml --folds 4 --budget-minutes "$BUDGET" --set budget_clock=cpu --set threads=1 --set amp=bf16 --set val_every=1
        --set data.crop=0 --set loss.lambda_cyc=0 --set loss.pix_floor=1.0)
variant_args() {
  case "$1" in
    p0) echo "" ;;                                                        # paired, whole slices, plain L1 (issue's lead)
    p1) echo "--set loss.lambda_ssim=50 --set ema=0.995" ;;               # + SSIM term + weight average
    p2) echo "--set loss.lambda_ssim=50 --set ema=0.995 --set model.generator=unet --set model.ngf=0 --set model.n_blocks=0" ;;
    p3) echo "--set loss.lambda_ssim=50 --set ema=0.995 --set loss.conditional_d=true --set loss.lambda_str=0" ;;
    p4) echo "--set loss.lambda_ssim=50 --set ema=0.995 --set data.register=rigid" ;;   # + CT registered onto MR
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}
for v in "${@:-p0 p1 p2 p3 p4}"; do
  read -r -a extra <<< "$(variant_args "$v")"
  pids=()
  for k in $FOLDS; do
    sccg-edge cv "${COMMON[@]}" "${extra[@]}" --out "runs/study/$v" --only "$k" --json \
      > "runs/study/$v.fold$k.json" 2> "runs/study/$v.fold$k.log" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  sccg-edge cv "${COMMON[@]}" "${extra[@]}" --out "runs/study/$v" --report-only --json > "runs/study/$v.json"
done
