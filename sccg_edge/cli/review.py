"""CLI: ``gallery`` (visual comparison page) and ``study make`` / ``study score`` (blinded reader study)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MODELS_HELP = ("Comma-separated [LABEL=]SPEC[@DIRECTION]: shipped names (teacher, student-s, student-ps), model or "
               "run folders, or exported artifacts (.onnx, OpenVINO .xml), e.g. teacher,student-s,int8=/tmp/q/model.xml"
               " (one label may join two artifacts, one per direction)")
DATA_HELP = "Paired slices (default: ../shared pairs, else the phantom)."

study_app = typer.Typer(help="A blinded reader study: make the pages, score the answers.", no_args_is_help=True)


def gallery(
    models: Annotated[str, typer.Option(help=MODELS_HELP)],
    out: Annotated[Path, typer.Option(help="New folder for index.html, img/, gallery.json and metrics.csv.")],
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    split: Annotated[str, typer.Option(help="Patient-level split to show.")] = "test",
    reference: Annotated[str, typer.Option(help="Model of the 2nd difference map ('none': no such map).")] = "teacher",
    slices: Annotated[int, typer.Option(help="At most this many slices, spread along the head (0: all).")] = 0,
    size: Annotated[int, typer.Option(help="Slice size (0: the first model's).")] = 0,
    threads: Annotated[int, typer.Option(help="CPU threads per backend (0: the runtime's default).")] = 0,
    title: Annotated[str, typer.Option(help="Page title.")] = "sccg-edge gallery",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A static HTML page: input, ground truth, each model's output, difference maps and metrics per slice."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.review.gallery import GalleryConfig, make_gallery

    cfg = GalleryConfig(models=models, data=str(data) if data else "", split=split, reference=reference,
                        slices=slices, size=size, threads=threads, title=title)
    result = make_gallery(cfg, out)
    if json_out:
        print_json(result)
        return
    rows = {"page": Path(result["out"]) / "index.html", "data": result["data"], "slices": result["n_slices"]}
    for s in result["summary"]:
        rows[f"{s['model']} {s['direction']}"] = " ".join(
            f"{name} {'-' if s[key] is None else format(s[key], fmt)}"
            for name, key, fmt in (("PSNR", "gt_psnr", ".2f"), ("SSIM", "gt_ssim", ".3f"), ("MAE", "gt_mae", ".2f")))
    print_kv_table("gallery", rows)


@study_app.command("make")
def study_make(
    models: Annotated[str, typer.Option(help=MODELS_HELP)],
    out: Annotated[Path, typer.Option(help="New folder: study/ (hand this out), key.json (keep it), README.md.")],
    readers: Annotated[int, typer.Option(help="Number of readers (one page each, each in its own order).")] = 1,
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    split: Annotated[str, typer.Option(help="Patient-level split the slices come from.")] = "test",
    slices: Annotated[int, typer.Option(help="At most this many slices, spread along the head (0: all).")] = 0,
    seed: Annotated[int, typer.Option(help="Fixes the image names and every reader's order.")] = 0,
    size: Annotated[int, typer.Option(help="Slice size (0: the first model's).")] = 0,
    threads: Annotated[int, typer.Option(help="CPU threads per backend (0: the runtime's default).")] = 0,
    title: Annotated[str, typer.Option(help="Page title.")] = "Synthetic image reader study",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Blinded pages of real and synthetic images, one per reader; the unblinding key is written beside them."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.review.study import StudyConfig, make_study

    cfg = StudyConfig(models=models, readers=readers, data=str(data) if data else "", split=split, slices=slices,
                      seed=seed, size=size, title=title, threads=threads)
    result = make_study(cfg, out)
    if json_out:
        print_json(result)
        return
    print_kv_table(f"study {result['study']}", {
        "hand out": Path(result["out"]) / "study", "keep (unblinds)": result["key"],
        "readers": ", ".join(result["readers"]), "images per reader": result["images"],
        "CT / MR images": f"{result['per_modality']['CT']} / {result['per_modality']['MR']}",
        "models": ", ".join(result["models"]), "data": result["data"]})


@study_app.command("score")
def study_score(
    key: Annotated[Path, typer.Option(help="The key.json written by `study make`.")],
    answers: Annotated[Path, typer.Option(help="Folder of the answer files readers sent back (.json or .csv).")],
    out: Annotated[Path, typer.Option(help="New folder for report.md, chart.png, summary.json and CSV tables.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Positive-answer rate, mean score, per-reader figures, agreement and comments per model and modality."""
    import sys

    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.review.score import score_study

    result = score_study(key, answers, out)
    for s in result["skipped"]:
        print(f"warning: {Path(answers) / s['name']}: skipped: {s['reason']}", file=sys.stderr)
    if json_out:
        print_json(result)
        return
    rows = {"report": Path(result["out"]) / "report.md", "readers": ", ".join(result["readers"]),
            "skipped files": len(result["skipped"])}
    for g in result["groups"]:
        rate = g["positive_rate"]
        rows[f"{g['modality']} {g['source']}"] = (f"{100 * rate:.0f}% positive, mean {g['mean']:.2f} (n={g['n']})"
                                                  if rate is not None else "n/a")
    for scope, a in result["agreement"].items():
        rows[f"alpha {scope}"] = f"{a['alpha']:.3f}" if a["alpha"] is not None else a["note"]
    print_kv_table(f"study {result['study']}", rows)


def register(app: typer.Typer) -> None:
    """Add ``gallery`` and the ``study`` group."""
    app.command("gallery")(gallery)
    app.add_typer(study_app, name="study")
