#!/usr/bin/env bash
# How the shipped reference models and the committed CPU benchmark results were made, step by step.
# Each step is one sccg-edge command; run from the repository root with the environment of ./run.sh
# (e.g. `PATH=$(./run.sh env)/bin:$PATH bash benchmarks/reference_pipeline.sh STEP`).
# Steps: recipe-study | recipe-study-final | registration-check | teacher-2026-12 | cv-budget | teacher | teacher-bf16 | teacher-ngf64 | teacher-l1 | teacher-in | teacher-gap | ship-teacher | student | ship-student | student-xs | ship-student-xs |
#        student-ps | ship-student-ps | bench | bench-check | quant-table | convert | reader-study | serve-load  (times: the 2-core Intel Xeon with AMX of 2026-11-25; bf16 autocast needs
#        AVX512-BF16 or AMX, drop `--set amp=bf16` elsewhere and expect 2-3x longer training)
set -euo pipefail
step="${1:?usage: benchmarks/reference_pipeline.sh STEP (see the list above)}"
case "$step" in
  teacher)       # ~100 min (fp32): the shipped teacher, the `cpu` recipe as it was on 2026-11-24, on the training
                 # patients of ../shared/data/brain-ct-mr-pairs (the overrides undo later recipe defaults)
    sccg-edge train --recipe benchmarks/study/cpu-2026-11-25.yaml --out runs/teacher-cpu --epochs 60 --max-minutes 125 --set threads=2 \
      --set data.affine=0 --set loss.pix_floor=0 --set val_every=1 ;;
  teacher-bf16)  # ~25 min: today's `cpu` recipe (joint affine augmentation, pix_floor 0.5, validation every 3
                 # epochs) with bf16 autocast (CPUs with AMX / AVX512-BF16); not shipped, see the closing notes
    sccg-edge train --recipe benchmarks/study/cpu-2026-11-25.yaml --out runs/teacher-bf16 --set threads=2 --set amp=bf16 ;;
  teacher-ngf64) # ~57 min: the same at the paper's width (ngf 64, 195 GMAC at 512); not shipped, see the notes
    sccg-edge train --recipe benchmarks/study/cpu-2026-11-25.yaml --out runs/teacher-ngf64-bf16 --set threads=2 --set amp=bf16 --set model.ngf=64 ;;
  teacher-l1)    # ~25 min, diagnostic: teacher-bf16 with a plain L1 pixel loss (pix_floor 1: the discriminator no longer
                 # weights it), to see whether the D-weighted pixel loss is what holds the fit back on a CPU budget
    sccg-edge train --recipe benchmarks/study/cpu-2026-11-25.yaml --out runs/teacher-l1 --set threads=2 --set amp=bf16 --set loss.pix_floor=1
    sccg-edge evaluate --model runs/teacher-l1 --split test --json > runs/teacher-l1/test.json ;;
  teacher-in)    # ~40 min, diagnostic ceiling: teacher-bf16 trained on all 8 patients, the test patient included, then
                 # scored on patient 34 (in-sample): how close can this recipe fit that patient's pairs at all?
    sccg-edge train --recipe benchmarks/study/cpu-2026-11-25.yaml --out runs/teacher-insample --set threads=2 --set amp=bf16 \
      --set data.train_patients=2,16,20,21,28,32,33,34 --set val_max_slices=24
    sccg-edge evaluate --model runs/teacher-insample/checkpoints/last --patients 34 --json \
      > runs/teacher-insample/test.json ;;
  teacher-gap)   # ~3 min: every teacher run above on the test patient against the bar, and how the bar reacts to
                 # a blurred or shifted ground truth (needs the runs of teacher-bf16, teacher-ngf64, teacher-l1, teacher-in)
    python benchmarks/teacher_gap.py --out "benchmarks/results/$(date +%Y-%m-%d)_teacher_gap" \
      --model shipped=teacher --model bf16=runs/teacher-bf16 --model ngf64=runs/teacher-ngf64-bf16 \
      --model l1=runs/teacher-l1 --model in-sample=runs/teacher-insample/checkpoints/last@34 > /dev/null ;;
  recipe-study)  # ~100 min on 2 cores: five teacher recipes, each cross-validated on folds 1 and 3 for 20 min per fold
                 # (benchmarks/recipe_study.sh), then the table (benchmarks/recipe_study.py)
    bash benchmarks/recipe_study.sh p0 p1 p2 p3 p4
    python benchmarks/recipe_study.py --study runs/study --out "benchmarks/results/$(date +%Y-%m-%d)_recipe_study" \
      --notes benchmarks/notes/recipe_study.md ;;
  recipe-study-final) # ~18 min: the chosen variant (p1) on the two other folds, for its 4-fold cross-validation
    FOLDS="0 2" bash benchmarks/recipe_study.sh p1 ;;
  teacher-2026-12) # the candidate reference teacher (not yet shipped): recipe-study variant p1 on all 8 shared
                 # patients (no validation patient: the cross-validation chose the recipe); not yet run to its end:
                 # set the budget from the curves (CPU minutes of the 2-thread process), resume with
                 # `sccg-edge train --resume runs/teacher-2026-12 --set budget_minutes=N`
    sccg-edge train --recipe cpu --out runs/teacher-2026-12 --epochs 100000 --set threads=2 --set amp=bf16 \
      --set val_every=5 --set val_max_slices=24 --set data.crop=0 --set loss.lambda_cyc=0 --set loss.pix_floor=1.0 \
      --set loss.lambda_ssim=50 --set ema=0.995 --set data.train_patients=2,16,20,21,28,32,33,34 \
      --set budget_minutes=100 --set budget_clock=cpu ;;
  cv-students)   # ~45 min on 2 cores: student-s and student-ps distilled from each fold teacher of the recipe study's p1
                 # (runs/study/p1, made by recipe-study + recipe-study-final) with the students' 2026-12 settings, 5 CPU
                 # minutes each, scored beside their fold teacher on the fold's test patients (the student gap); two
                 # folds at a time, one thread each (FOLD_GROUPS="0 1 2 3": one at a time); then the result the cards cite
    for group in ${FOLD_GROUPS:-0,1 2,3}; do
      pids=()
      for k in ${group//,/ }; do
        sccg-edge cv --recipe benchmarks/study/cpu-2026-11-25.yaml --folds 4 --budget-minutes 15 --set budget_clock=cpu \
          --set threads=1 --set amp=bf16 --set val_every=1 --set data.crop=0 --set loss.lambda_cyc=0 \
          --set loss.pix_floor=1.0 --set loss.lambda_ssim=50 --set ema=0.995 --out runs/study/p1 --only "$k" \
          --students student-s,student-ps --student-budget-minutes 5 --student-set data.crop=0 --json \
          > "runs/study/p1.students.fold$k.json" 2> "runs/study/p1.students.fold$k.log" &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p"; done
    done
    out="benchmarks/results/$(date +%Y-%m-%d)_teacher_cv"
    mkdir -p "$out"
    sccg-edge cv --recipe benchmarks/study/cpu-2026-11-25.yaml --folds 4 --budget-minutes 15 --set budget_clock=cpu \
      --set threads=1 --set amp=bf16 --set val_every=1 --set data.crop=0 --set loss.lambda_cyc=0 \
      --set loss.pix_floor=1.0 --set loss.lambda_ssim=50 --set ema=0.995 --out runs/study/p1 --report-only \
      --students student-s,student-ps --student-budget-minutes 5 --student-set data.crop=0 --json > /dev/null
    cp runs/study/p1/cv.json runs/study/p1/report.md runs/study/p1/folds.csv runs/study/p1/curves.png "$out/"
    echo "results in $out" ;;
  cv-budget)     # ~95 min on 2 cores: the CV recipe of cv-students at the shipped teacher's compute (85 CPU minutes of one
                 # thread per fold, ~1000 steps, vs 15 for the cited CV and ~1040 steps for the shipped teacher), folds
                 # 1 and 3 side by side (FOLDS="0 1 2 3" for all four): does the out-of-patient accuracy rise with compute?
    pids=()
    for k in ${FOLDS:-1 3}; do
      sccg-edge cv --recipe benchmarks/study/cpu-2026-11-25.yaml --folds 4 --budget-minutes 85 --set budget_clock=cpu \
        --set threads=1 --set amp=bf16 --set val_every=5 --set data.crop=0 --set loss.lambda_cyc=0 \
        --set loss.pix_floor=1.0 --set loss.lambda_ssim=50 --set ema=0.995 --out runs/study/p1-85 --only "$k" --json \
        > "runs/study/p1-85.fold$k.json" 2> "runs/study/p1-85.fold$k.log" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    sccg-edge cv --recipe benchmarks/study/cpu-2026-11-25.yaml --folds 4 --budget-minutes 85 --set budget_clock=cpu \
      --set threads=1 --set amp=bf16 --set val_every=5 --set data.crop=0 --set loss.lambda_cyc=0 \
      --set loss.pix_floor=1.0 --set loss.lambda_ssim=50 --set ema=0.995 --out runs/study/p1-85 --report-only --json > /dev/null
    out="benchmarks/results/$(date +%Y-%m-%d)_teacher_cv_85"
    mkdir -p "$out"
    cp runs/study/p1-85/cv.json runs/study/p1-85/report.md runs/study/p1-85/folds.csv runs/study/p1-85/curves.png "$out/"
    echo "results in $out" ;;
  ship-teacher-2026-12) # the 2026-12 reference teacher (final weights; trained on all 8 patients, so its val/test rows are
                 # in-sample) with the cross-validated figures of its recipe as the expected accuracy
    rm -rf sccg_edge/weights/teacher
    sccg-edge ship --run runs/teacher-2026-12 --dest sccg_edge/weights/teacher \
      --cv "$(ls -d benchmarks/results/*_teacher_cv | tail -1)/cv.json" --notes "$(cat benchmarks/notes/teacher-2026-12.md)" ;;
  students-2026-12) # ~35 min on 2 cores: student-s, student-ps and student-xs distilled from the shipped 2026-12
                 # teacher on all 8 patients, whole 256x256 slices, bf16, a CPU-time budget each (20/20/10 minutes)
    all=2,16,20,21,28,32,33,34
    for spec in student-s:20 student-ps:20 student-xs:10; do
      name="${spec%%:*}"; minutes="${spec##*:}"; extra=()
      [ "$name" = student-ps ] && extra=(--set loss.feature_pairs=down0:enc)
      sccg-edge distill --teacher teacher --student "$name" --recipe distill-cpu --out "runs/$name-2026-12" \
        --epochs 100000 --set threads=2 --set amp=bf16 --set data.crop=0 --set data.train_patients=$all \
        --set val_max_slices=24 --set budget_minutes="$minutes" --set budget_clock=cpu "${extra[@]}" > /dev/null
    done ;;
  ship-students-2026-12)
    cv="$(ls -d benchmarks/results/*_teacher_cv | tail -1)/cv.json"
    for name in student-s student-ps student-xs; do
      rm -rf "sccg_edge/weights/$name"
      sccg-edge ship --run "runs/$name-2026-12" --dest "sccg_edge/weights/$name" --compare teacher --cv "$cv" \
        --notes "$(cat "benchmarks/notes/$name-2026-12.md")" > /dev/null
    done ;;
  registration-check) # ~5 min (cached after the first run): the CT-onto-MR registration of every shared pair
    python benchmarks/registration_check.py --kind rigid --out "benchmarks/results/$(date +%Y-%m-%d)_registration" ;;
  ship-teacher)  # best validation epoch -> sccg_edge/weights/teacher (FP16 storage), card measured on val/test
    sccg-edge ship --run runs/teacher-cpu --dest sccg_edge/weights/teacher \
      --notes "$(cat benchmarks/notes/teacher.md)" ;;
  student)       # the shipped student-s, distilled from the shipped teacher (output + ground truth + encoder
                 # features), ~20 min fp32: 30 epochs of the recipe as it was on 2026-11-24 (no affine), then
                 # resumed to 80 epochs (the linear decay restarts over the longer run)
    sccg-edge distill --teacher teacher --student student-s --recipe distill-cpu --out runs/student-s \
      --epochs 30 --max-minutes 18 --set threads=2 --set data.affine=0
    sccg-edge distill --resume runs/student-s --epochs 80 --max-minutes 13 ;;
  student-xs)    # the shipped student-xs (ngf 8, 4 mobile blocks), same recipe, 40 epochs (~9 min)
    sccg-edge distill --teacher teacher --student student-xs --recipe distill-cpu --out runs/student-xs \
      --epochs 40 --max-minutes 9 --set threads=2 --set data.affine=0 ;;
  ship-student-xs)
    sccg-edge ship --run runs/student-xs --dest sccg_edge/weights/student-xs --compare teacher \
      --notes "$(cat benchmarks/notes/student-xs.md)" ;;
  student-ps)    # student-ps (space-to-depth, ngf 16, 9 mobile blocks) from the shipped teacher: today's distill-cpu
                 # recipe (affine pairs), 150 epochs, its down0 paired with the teacher's encoder output (same
                 # resolution), bf16 autocast, ~12 min
    sccg-edge distill --teacher teacher --student student-ps --recipe distill-cpu --out runs/student-ps \
      --epochs 150 --set threads=2 --set amp=bf16 --set loss.feature_pairs=down0:enc ;;
  ship-student-ps)
    sccg-edge ship --run runs/student-ps --dest sccg_edge/weights/student-ps --compare teacher \
      --notes "$(cat benchmarks/notes/student-ps.md)" ;;
  ship-student)
    sccg-edge ship --run runs/student-s --dest sccg_edge/weights/student-s --compare teacher \
      --notes "$(cat benchmarks/notes/student-s.md)" ;;
  bench)         # every shipped model x backend x precision at 512 and 256, fidelity on all test slices
    out="benchmarks/results/$(date +%Y-%m-%d)_cpu"
    sccg-edge bench --config benchmarks/cpu-full.yaml --out "$out" --json \
      > /dev/null
    echo "results in $out" ;;
  bench-2026-12) # ~20 min on 2 cores: the rebuilt shipped models (benchmarks/cpu-2026-12.yaml), then what flip
                 # test-time averaging costs for the students on OpenVINO at 256 (latency ratio and fidelity)
    out="benchmarks/results/$(date +%Y-%m-%d)_cpu"
    sccg-edge bench --config benchmarks/cpu-2026-12.yaml --out "$out" --json > /dev/null
    sccg-edge bench --models student-s,student-ps --backends openvino,onnxruntime --precisions fp32,int8 --size 256 \
      --no-paper-baseline --fidelity-slices 0 --set tta=flip --out "${out}_tta" --json > /dev/null
    echo "results in $out and ${out}_tta" ;;
  bench-check)   # our harness vs OpenVINO's benchmark_app on the same IR, threads and shape
    python benchmarks/openvino_benchmark_app_check.py --size 512 --threads 2 \
      --out benchmarks/results/benchmark_app_check_512.json ;;
  quant-table)   # every FP16/INT8 form of student-s (PTQ, budgeted, QAT) on the test patient, both directions
    sccg-edge quant-table --model student-s --threads 2 --qat-steps 200 \
      --out "benchmarks/results/$(date +%Y-%m-%d)_quant" --json > /dev/null ;;
  convert)       # the real DICOM series through the shipped students: student-s in PyTorch FP32 and OpenVINO INT8
                 # (NNCF PTQ), student-ps in PyTorch FP32
    for d in mr2ct ct2mr; do
      sccg-edge quantize --model student-s --direction "$d" --int8 --target openvino --out "runs/q/student-s-$d-ov-int8" --json \
        > /dev/null
    done
    sccg-edge convert --model student-s --direction mr2ct --input ../shared/data/porcine-head-t2-dicom \
      --out runs/convert/porcine-sct-fp32 --json > /dev/null
    sccg-edge convert --model runs/q/student-s-mr2ct-ov-int8/model.xml --direction mr2ct \
      --input ../shared/data/porcine-head-t2-dicom --out runs/convert/porcine-sct-ov-int8 --json > /dev/null
    sccg-edge convert --model student-s --direction ct2mr --input ../shared/data/head-ct-dicom \
      --out runs/convert/head-smr-fp32 --json > /dev/null
    sccg-edge convert --model runs/q/student-s-ct2mr-ov-int8/model.xml --direction ct2mr \
      --input ../shared/data/head-ct-dicom --out runs/convert/head-smr-ov-int8 --json > /dev/null
    sccg-edge convert --model student-ps --direction mr2ct --input ../shared/data/porcine-head-t2-dicom \
      --out runs/convert/porcine-sct-ps-fp32 --json > /dev/null
    sccg-edge convert --model student-ps --direction ct2mr --input ../shared/data/head-ct-dicom \
      --out runs/convert/head-smr-ps-fp32 --json > /dev/null
    python benchmarks/check_converted.py runs/convert ;;
  reader-study)  # ~5 min: gallery of the shipped models (and student-s OpenVINO INT8) on the test patient, a blinded
                 # 3-reader study of them, screenshots of both pages in headless Debian chromium
    python benchmarks/reader_study.py --out "benchmarks/results/$(date +%Y-%m-%d)_reader_study" ;;
  serve-load)    # ~5 min on 2 shared cores: `sccg-edge serve` (student-ps) under 20 porcine T2 series from 4 concurrent
                 # dcmtk storescu associations, forwarded to dcmtk storescp (needs apt-get install dcmtk)
    python benchmarks/serve_load.py --series 20 --concurrency 4 --model student-ps --workers 1 --threads 2 ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
