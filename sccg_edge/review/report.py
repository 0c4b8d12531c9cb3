"""The reader-study report: a Markdown file and a bar chart of the answers (matplotlib, imported when drawn)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

LEVEL_COLOURS = {5: "#1a7f37", 4: "#6cc070", 3: "#d9d27a", 2: "#f08a4b", 1: "#c62828"}
PAPER = "The paper (10 radiographers): sCT 63% positive, sMR 96% positive."


def _pct(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.0f}%"


def _num(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _label(group: dict[str, Any]) -> str:
    synthetic = "s" + group["modality"] if group["source"] != "real" else "real " + group["modality"]
    return f"{synthetic} · {group['source']}" if group["source"] != "real" else synthetic


def bar_chart(summary: dict[str, Any], path: Path) -> None:
    """Stacked horizontal bars of the five answers per (modality, source), with the positive rate beside each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary["groups"]
    names = {int(s): n for s, n in summary["levels"]}
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(groups) + 1.8), dpi=110)
    ys = list(range(len(groups)))[::-1]
    for level in (5, 4, 3, 2, 1):
        lefts = []
        for g in groups:
            lefts.append(sum(g["counts"][str(v)] for v in (5, 4, 3, 2, 1) if v > level) / g["n"] * 100)
        widths = [g["counts"][str(level)] / g["n"] * 100 for g in groups]
        ax.barh(ys, widths, left=lefts, color=LEVEL_COLOURS[level], edgecolor="white", height=0.7,
                label=names.get(level, str(level)))
    for y, g in zip(ys, groups):
        ax.text(101, y, f"{_pct(g['positive_rate'])} positive (n={g['n']})", va="center", fontsize=9)
    ax.set_yticks(ys, [_label(g) for g in groups])
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of answers (%)")
    ax.set_title(f"\"{summary['question'].format(modality='CT / MR')}\" — {len(summary['readers'])} reader(s)",
                 fontsize=10)
    ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(groups) > 3 else -0.3),
              frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _group_table(rows: list[dict[str, Any]], lead: str | None = None) -> list[str]:
    head = ([lead] if lead else []) + ["images", "n", "positive", "rate [95% CI]", "mean score [95% CI]",
                                        "5 VS", "4 S", "3 N", "2 NS", "1 VD"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lo, hi = r["positive_ci"]
        mlo, mhi = r["mean_ci"]
        cells = ([r[lead]] if lead else []) + [
            _label(r), str(r["n"]), str(r["positive"]), f"{_pct(r['positive_rate'])} [{_pct(lo)}, {_pct(hi)}]",
            f"{_num(r['mean'])} [{_num(mlo)}, {_num(mhi)}]", *(str(r["counts"][str(v)]) for v in (5, 4, 3, 2, 1))]
        out.append("| " + " | ".join(cells) + " |")
    return out


def markdown_report(summary: dict[str, Any]) -> str:
    """The report: answer rates per model and modality, per reader, agreement, comments, skipped files."""
    lines = [f"# Reader study {summary['study']}: {summary['title']}", "",
             (f"Data: {summary['data']}. Question: \"{summary['question'].format(modality='CT / MR')}\" on five "
              "levels; very similar, similar and neutral count as positive, as in the paper."), "",
             f"{len(summary['readers'])} reader(s) counted ({', '.join(summary['readers'])}), "
             f"{summary['n_answers']} answers, from: " + ", ".join(f"`{f['name']}`" for f in summary["files"]) + "."]
    if summary.get("missing_readers"):
        lines += ["", "No usable answers from: " + ", ".join(summary["missing_readers"]) + "."]
    if summary.get("skipped"):
        lines += ["", "Answer files skipped (never merged):", ""]
        lines += [f"- `{s['name']}`: {s['reason']}" for s in summary["skipped"]]
    lines += ["", "## Positive-answer rate and mean score", "", *_group_table(summary["groups"]), "",
              PAPER + " Real images are the control: a model close to the real images' rate is as convincing as "
              "the real thing to these readers.", "", "![answers per model and modality](chart.png)", "",
              "## Per reader", "", *_group_table(summary["per_reader"], lead="reader"), "",
              "## Inter-reader agreement", "", "| scope | Krippendorff's alpha | note |", "|---|---|---|"]
    for scope, a in summary["agreement"].items():
        lines.append(f"| {scope} | {_num(a['alpha'], 3)} | {a['note']} |")
    lines += ["", "## Comments, grouped by model", ""]
    if not summary["comments"]:
        lines.append("No comments.")
    by_source: dict[str, list[dict[str, Any]]] = {}
    for c in summary["comments"]:
        by_source.setdefault(c["source"], []).append(c)
    names = {int(s): n for s, n in summary["levels"]}
    for source, items in by_source.items():
        lines += [f"### {source}", ""]
        for c in items:
            text = " ".join(c["comment"].split())
            lines.append(f"- {c['modality']}, slice {c['slice']}, {c['reader']} ({names[c['score']]}): {text}")
        lines.append("")
    lines += ["", "## How the figures are computed", "",
              ("Scores: very similar 5, similar 4, neutral 3, not similar 2, very dissimilar 1. Rate intervals are "
               "Wilson 95% intervals, mean intervals t 95% intervals (clipped to 1..5); both treat every answer as independent, which "
               "answers of one reader are not, so they are optimistic. Alpha is Krippendorff's ordinal alpha "
               "(`krippendorff` package) over the images the readers rated in common."), ""]
    return "\n".join(lines)
