"""The gallery and a reader study of the shipped models on the shared test patient, with screenshots of both pages.

Usage (from the repository root, environment of ./run.sh, ../shared/data present, Debian chromium installed):
    python benchmarks/reader_study.py --out benchmarks/results/DATE_reader_study [--readers 3] [--slices 8]

Steps, each an sccg-edge command (printed as it runs):
1. ``sccg-edge quantize``: student-s as OpenVINO INT8 (NNCF PTQ), one IR per direction;
2. ``sccg-edge gallery``: teacher, student-s, student-ps and the INT8 student on every slice of test patient 34;
3. ``sccg-edge study make``: a blinded study of the same models and real images, ``--slices`` slices;
4. headless Chromium opens both pages and takes the screenshots.

Committed: ``README.md`` (written here, with the commands and the gallery's mean metrics), ``gallery.json`` and
``metrics.csv`` (every figure on the gallery page), ``study.json`` (what the study holds, no key), and the
screenshots. The pages and their images show real scans and the key unblinds the study: they stay under
``artifacts/`` (git-ignored). No reader answers are made up here: ``study score`` runs on what colleagues send back.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
INT8 = "student-s-int8"
TITLE = "sccg-edge gallery: shipped models on test patient 34"


def run(args: list[str]) -> dict[str, Any]:
    """Run one sccg-edge command with --json and return its JSON."""
    print("$ sccg-edge " + shlex.join(args), file=sys.stderr, flush=True)
    out = subprocess.run([sys.executable, "-m", "sccg_edge", *args, "--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def quantize(art: Path) -> dict[str, Path]:
    """student-s as an OpenVINO INT8 IR per direction (reused when already there)."""
    xml = {}
    for d in ("mr2ct", "ct2mr"):
        folder = art / f"student-s-{d}-ov-int8"
        if not (folder / "model.xml").is_file():
            run(["quantize", "--model", "student-s", "--direction", d, "--int8", "--target", "openvino",
                 "--out", str(folder)])
        xml[d] = folder / "model.xml"
    return xml


def screenshots(gallery: Path, study: Path, out: Path) -> list[str]:
    """gallery.png (as opened), gallery_sorted.png (worst SSIM of the INT8 student first, soft-tissue window),
    study.png (reader-01's page with an answer chosen and a comment typed, nothing exported)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((gallery / "index.html").resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / "gallery.png"))
        page.select_option("#direction", "mr2ct")
        page.select_option("#window", "soft")
        page.select_option("#sortModel", INT8)
        page.select_option("#sort", "ssim")
        page.locator("h1").click()
        page.keyboard.press("j")
        page.keyboard.press("k")
        page.screenshot(path=str(out / "gallery_sorted.png"))
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((study / "study" / "reader-01.html").resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_load_state("load")
        page.click("summary")  # fold the instructions away, as a reader would after the first image
        page.click("label:has(#answer-4)")
        page.fill("#comment", "Grey-white contrast a little flat; ventricles look right.")
        page.screenshot(path=str(out / "study.png"))
        browser.close()
    return errors


def readme(cmd: str, gallery: dict[str, Any], study: dict[str, Any], specs: str, art: Path) -> str:
    rows = ["| model | direction | slices | PSNR | SSIM | MAE | PSNR vs teacher | SSIM vs teacher | MAE vs teacher |",
            "|---|---|---|---|---|---|---|---|---|"]

    def f(v: Any, d: int) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    for s in gallery["summary"]:
        rows.append(f"| {s['model']} | {s['direction']} | {s['n']} | {f(s['gt_psnr'], 2)} | {f(s['gt_ssim'], 3)} | "
                    f"{f(s['gt_mae'], 2)} | {f(s['ref_psnr'], 2)} | {f(s['ref_ssim'], 3)} | {f(s['ref_mae'], 2)} |")
    table = "\n".join(rows)
    return f"""# Gallery and reader study of the shipped models (test patient {', '.join(gallery['patients'])})

Made by (from the repository root, environment of `./run.sh`, `../shared/data` present, Debian `chromium`):

```bash
{cmd}
```

which ran `sccg-edge quantize` (student-s as OpenVINO INT8, one IR per direction), then

```bash
models={specs}
sccg-edge gallery --models $models --reference teacher --out {art}/gallery \\
    --title "{TITLE}"
sccg-edge study make --models $models --readers {len(study['readers'])} --slices {study['slices']} --seed 0 \\
    --out {art}/study
```

and took the screenshots in headless Chromium. Data: {gallery['data']}; {gallery['n_slices']} slices at
{gallery['size']}x{gallery['size']}.

* `gallery.png`: the page as it opens; `gallery_sorted.png`: sCT only, the worst SSIM of `{INT8}` first, soft-tissue
  window (the PNG pairs hold the brain window only, which the page says: the other windows re-map that range).
* `study.png`: a reader's page (an answer chosen and a comment typed for the picture; nothing was exported).
* `gallery.json`, `metrics.csv`: every figure on the gallery page (per image: PSNR / SSIM / MAE against the ground
  truth and against the FP32 teacher, 0..255 scale, `sccg_edge.metrics.image_metrics`).
* `study.json`: what the study holds ({study['images']} images per reader: {study['per_modality']['CT']} CT,
  {study['per_modality']['MR']} MR, real and synthetic; readers {', '.join(study['readers'])}; study id
  `{study['study']}`).

The pages, their images (real scans) and the study key stay in `{art}/` (git-ignored). **No reader has answered
this study yet**: there are no reader figures here, and none are made up. To run it with colleagues, hand out
`{art}/study/study/`, collect the answer files, and run
`sccg-edge study score --key {art}/study/key.json --answers ANSWERS --out score`.

## Mean metrics on the gallery's slices

{table}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--readers", type=int, default=3)
    ap.add_argument("--slices", type=int, default=8, help="slices in the study (the gallery shows all)")
    args = ap.parse_args()
    out: Path = args.out
    art = out / "artifacts"
    for name in ("gallery", "study"):
        shutil.rmtree(art / name, ignore_errors=True)
    art.mkdir(parents=True, exist_ok=True)
    xml = quantize(art)
    specs = f"teacher,student-s,student-ps,{INT8}={xml['mr2ct']},{INT8}={xml['ct2mr']}"
    gallery = run(["gallery", "--models", specs, "--reference", "teacher", "--title", TITLE,
                   "--out", str(art / "gallery")])
    study = run(["study", "make", "--models", specs, "--readers", str(args.readers), "--slices", str(args.slices),
                 "--seed", "0", "--out", str(art / "study")])
    errors = screenshots(art / "gallery", art / "study", out)
    if errors:
        print(f"console errors: {errors}", file=sys.stderr)
        return 1
    shutil.copy(art / "gallery" / "gallery.json", out / "gallery.json")
    shutil.copy(art / "gallery" / "metrics.csv", out / "metrics.csv")
    study = {k: v for k, v in study.items() if k not in ("out", "key")}
    (out / "study.json").write_text(json.dumps(study, indent=1) + "\n")
    cmd = f"python benchmarks/reader_study.py --out {out} --readers {args.readers} --slices {args.slices}"
    (out / "README.md").write_text(readme(cmd, gallery, study, specs, art))
    print(f"results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
