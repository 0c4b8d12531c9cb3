"""``score_study``: unblind the answers of a reader study and report them as the paper did, and more.

Per model (and ``real``, the control) and modality: the positive-answer rate (very similar, similar or neutral: the
paper's figure, sCT 63% / sMR 96%) with a Wilson 95% interval, the mean score (5 = very similar .. 1 = very
dissimilar) with a t 95% interval, and the count of each answer. The intervals treat every answer as independent;
answers of one reader are not, so they are narrower than a reader-level analysis would give. Per reader the same
figures; inter-reader agreement is Krippendorff's alpha (ordinal, ``krippendorff`` package) over the images each
modality's readers rated in common. Comments are grouped by model. Outputs: ``summary.json``, ``summary.csv``,
``per_reader.csv``, ``answers.csv`` (every counted answer, unblinded), ``chart.png`` and ``report.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
from scipy import stats

from sccg_edge.errors import InputError
from sccg_edge.review.answers import ReaderAnswers, Skipped, collect_answers, load_key
from sccg_edge.review.inputs import REAL
from sccg_edge.review.report import bar_chart, markdown_report
from sccg_edge.review.study import MODALITIES
from sccg_edge.utils.fs import atomic_dir, check_writable
from sccg_edge.utils.jsonsafe import json_safe

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: list[int]) -> tuple[float, float | None, float | None]:
    """Mean and its t 95% interval, clipped to the 1..5 scale (None for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return mean, max(1.0, mean - half), min(5.0, mean + half)


def answer_stats(scores: list[int], positive: tuple[int, ...]) -> dict[str, Any]:
    """Counts, positive rate (Wilson interval) and mean score (t interval) of a list of scores."""
    n = len(scores)
    k = sum(1 for s in scores if s in positive)
    lo, hi = wilson_interval(k, n)
    mean, mlo, mhi = mean_interval(scores) if n else (math.nan, None, None)
    return {"n": n, "counts": {str(v): scores.count(v) for v in (5, 4, 3, 2, 1)}, "positive": k,
            "positive_rate": k / n if n else None, "positive_ci": [lo, hi], "mean": mean, "mean_ci": [mlo, mhi]}


def krippendorff_alpha(matrix: np.ndarray) -> tuple[float | None, str]:
    """Ordinal Krippendorff's alpha of a readers x images matrix (NaN = not rated) and a note."""
    if matrix.shape[0] < 2:
        return None, "needs two or more readers"
    if np.sum(np.sum(np.isfinite(matrix), axis=0) >= 2) == 0:
        return None, "no image was rated by two readers"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                                         value_domain=[1, 2, 3, 4, 5]))
    if not math.isfinite(value):
        return None, "undefined: every answer is the same"
    return value, f"ordinal, {matrix.shape[0]} readers x {matrix.shape[1]} images"


def unblind(key: dict[str, Any], files: list[ReaderAnswers]) -> list[dict[str, Any]]:
    """One record per counted answer, with the image's source, modality and slice."""
    records = []
    for f in files:
        for position, token in enumerate(key["readers"][f.reader], start=1):
            score, comment = f.answers[token]
            img = key["images"][token]
            records.append({"reader": f.reader, "position": position, "item": token, "source": img["source"],
                            "modality": img["modality"], "slice": img["slice"], "score": score, "comment": comment})
    return records


def sources(key: dict[str, Any]) -> list[str]:
    """``real`` first, then the models in the order they were given."""
    return [REAL, *(m["label"] for m in key["models"])]


def summarize(key: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of the report (see module docs)."""
    positive = tuple(int(v) for v in key["positive"])
    readers = sorted({r["reader"] for r in records})
    groups, per_reader, agreement, comments = [], [], {}, []
    for modality in MODALITIES:
        for source in sources(key):
            sel = [r for r in records if r["modality"] == modality and r["source"] == source]
            if not sel:
                continue
            groups.append({"modality": modality, "source": source, "n_readers": len({r["reader"] for r in sel}),
                           **answer_stats([r["score"] for r in sel], positive)})
            for reader in readers:
                mine = [r["score"] for r in sel if r["reader"] == reader]
                if mine:
                    per_reader.append({"reader": reader, "modality": modality, "source": source,
                                       **answer_stats(mine, positive)})
            comments += [{k: r[k] for k in ("source", "modality", "slice", "reader", "score", "comment")}
                         for r in sel if r["comment"].strip()]
    for scope in (*MODALITIES, "all"):
        sel = [r for r in records if scope == "all" or r["modality"] == scope]
        items = sorted({r["item"] for r in sel})
        if not items:
            continue
        matrix = np.full((len(readers), len(items)), np.nan)
        col = {t: j for j, t in enumerate(items)}
        for r in sel:
            matrix[readers.index(r["reader"]), col[r["item"]]] = r["score"]
        value, note = krippendorff_alpha(matrix)
        agreement[scope] = {"alpha": value, "note": note}
    return {"study": key["study"], "title": key.get("title", ""), "data": key.get("data", ""),
            "question": key["question"], "levels": key["levels"], "positive_levels": list(positive),
            "readers": readers, "n_answers": len(records), "groups": groups, "per_reader": per_reader,
            "agreement": agreement, "comments": comments}


def score_study(key_path: Path, answers: Path, out: Path) -> dict[str, Any]:
    """Score the answer files in ``answers`` against the key; writes the report folder ``out`` (see module docs).

    Returns the summary, with ``skipped`` listing every answer file left out and why.
    """
    out = Path(out)
    if out.exists():
        raise InputError("the output folder exists; give a new --out (nothing is overwritten)", out)
    check_writable(out)
    key = load_key(Path(key_path))
    files, skipped = collect_answers(Path(answers), key)
    if not files:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped) or "the folder is empty"
        raise InputError(f"no usable answer file ({reasons})", answers)
    records = unblind(key, files)
    summary = summarize(key, records)
    summary["files"] = [{"name": f.path.name, "reader": f.reader} for f in files]
    summary["skipped"] = [{"name": s.name, "reason": s.reason} for s in skipped]
    summary["missing_readers"] = sorted(set(key["readers"]) - {f.reader for f in files})
    with atomic_dir(out) as tmp:
        (tmp / "summary.json").write_text(json.dumps(json_safe(summary), indent=1) + "\n", encoding="utf-8")
        (tmp / "summary.csv").write_text(_table_csv(summary["groups"], []), encoding="utf-8")
        (tmp / "per_reader.csv").write_text(_table_csv(summary["per_reader"], ["reader"]), encoding="utf-8")
        (tmp / "answers.csv").write_text(_answers_csv(records), encoding="utf-8")
        bar_chart(summary, tmp / "chart.png")
        (tmp / "report.md").write_text(markdown_report(summary), encoding="utf-8")
    return json_safe(summary) | {"out": str(out)}


def _table_csv(rows: list[dict[str, Any]], lead: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*lead, "modality", "source", "n", "positive", "positive_rate", "positive_ci_low", "positive_ci_high",
                "mean", "mean_ci_low", "mean_ci_high", "n_5", "n_4", "n_3", "n_2", "n_1"])
    for r in rows:
        w.writerow([*(r[k] for k in lead), r["modality"], r["source"], r["n"], r["positive"],
                    _fmt(r["positive_rate"]), _fmt(r["positive_ci"][0]), _fmt(r["positive_ci"][1]), _fmt(r["mean"]),
                    _fmt(r["mean_ci"][0]), _fmt(r["mean_ci"][1]), *(r["counts"][str(v)] for v in (5, 4, 3, 2, 1))])
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.6g}"


def _answers_csv(records: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    cols = ["reader", "position", "item", "source", "modality", "slice", "score", "comment"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in records:
        w.writerow([r[c] for c in cols])
    return buf.getvalue()


__all__ = ["Skipped", "answer_stats", "krippendorff_alpha", "score_study", "summarize", "unblind",
           "wilson_interval"]
