"""`study score`: exact figures from known answers; bad, partial and duplicated answer files skipped by name."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from sccg_edge.cli import main
from sccg_edge.review.score import answer_stats, krippendorff_alpha, score_study, wilson_interval

LABELS = {5: "Very similar", 4: "Similar", 3: "Neutral", 2: "Not similar", 1: "Very dissimilar"}


def _plan(key: dict, reader: str) -> dict[str, tuple[int, str]]:
    """A known answer per image: the score follows the reader's number and position; some comments."""
    r = int(reader.split("-")[1])
    return {t: (1 + (r * 3 + k) % 5, f"odd edge, \"{t[:4]}\"\nline 2" if k % 4 == 0 else "")
            for k, t in enumerate(key["readers"][reader])}


def _write_json(path: Path, key: dict, reader: str, plan: dict, drop: int = 0) -> None:
    rows = [{"position": k + 1, "item": t, "modality": key["images"][t]["modality"],
             "score": plan[t][0] if k >= drop else None, "answer": LABELS.get(plan[t][0], "") if k >= drop else "",
             "comment": plan[t][1]} for k, t in enumerate(key["readers"][reader])]
    path.write_text(json.dumps({"format": "sccg-edge-study-answers-v1", "study": key["study"], "reader": reader,
                                "answers": rows}))


def _write_csv(path: Path, key: dict, reader: str, plan: dict) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "reader", "position", "item", "modality", "score", "answer", "comment"])
        for k, t in enumerate(key["readers"][reader]):
            w.writerow([key["study"], reader, k + 1, t, key["images"][t]["modality"], plan[t][0], LABELS[plan[t][0]],
                        plan[t][1]])


def _expected(key: dict, plans: dict[str, dict]) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for plan in plans.values():
        for t, (score, _) in plan.items():
            img = key["images"][t]
            out.setdefault((img["modality"], img["source"]), []).append(score)
    return out


def test_statistics_helpers() -> None:
    lo, hi = wilson_interval(63, 100)
    assert lo == pytest.approx(0.5322, abs=1e-4) and hi == pytest.approx(0.7182, abs=1e-4)  # by hand, z 1.96
    s = answer_stats([5, 4, 3, 2, 1, 1], (5, 4, 3))
    assert s["positive"] == 3 and s["positive_rate"] == 0.5 and s["counts"] == {"5": 1, "4": 1, "3": 1, "2": 1,
                                                                                "1": 2}
    assert s["mean"] == pytest.approx(16 / 6) and s["mean_ci"][0] < s["mean"] < s["mean_ci"][1]
    assert answer_stats([5, 5, 4], (5, 4, 3))["mean_ci"][1] == 5.0  # the t interval stays on the 1..5 scale
    import numpy as np

    assert krippendorff_alpha(np.array([[1, 2, 3, 4, 5.0], [1, 2, 3, 4, 5.0]]))[0] == pytest.approx(1.0)
    assert krippendorff_alpha(np.array([[1, 2, 3.0]]))[0] is None


def test_score_reproduces_known_answers_and_skips_bad_files(review_study: Path, tmp_path: Path) -> None:
    key = json.loads((review_study / "key.json").read_text())
    plans = {r: _plan(key, r) for r in ("reader-01", "reader-02")}
    answers = tmp_path / "answers"
    answers.mkdir()
    _write_json(answers / "a-reader-01.json", key, "reader-01", plans["reader-01"])
    _write_csv(answers / "b-reader-02.csv", key, "reader-02", plans["reader-02"])
    _write_json(answers / "c-reader-01-copy.json", key, "reader-01", plans["reader-01"])  # identical duplicate
    _write_json(answers / "d-reader-03-partial.json", key, "reader-03", _plan(key, "reader-03"), drop=2)
    (answers / "e-broken.json").write_text('{"format": "sccg-edge-study-answers-v1", "answers": [')
    other = dict(key, study="0123456789ab")
    _write_json(answers / "f-other-study.json", other, "reader-03", _plan(key, "reader-03"))
    bad = _plan(key, "reader-03")
    bad[next(iter(bad))] = (7, "")
    _write_json(answers / "g-bad-score.json", key, "reader-03", bad)
    (answers / "notes.txt").write_text("thanks")

    result = score_study(review_study / "key.json", answers, tmp_path / "score")
    skipped = {s["name"]: s["reason"] for s in result["skipped"]}
    assert set(skipped) == {"c-reader-01-copy.json", "d-reader-03-partial.json", "e-broken.json",
                            "f-other-study.json", "g-bad-score.json", "notes.txt"}
    assert "duplicate of a-reader-01.json" in skipped["c-reader-01-copy.json"]
    assert skipped["d-reader-03-partial.json"].startswith("partial: 10 of 12")
    assert "malformed JSON" in skipped["e-broken.json"]
    assert "belongs to study '0123456789ab'" in skipped["f-other-study.json"]
    assert "not one of 1..5" in skipped["g-bad-score.json"]
    assert result["readers"] == ["reader-01", "reader-02"] and result["missing_readers"] == ["reader-03"]

    expected = _expected(key, plans)
    assert {(g["modality"], g["source"]) for g in result["groups"]} == set(expected)
    for g in result["groups"]:
        scores = expected[(g["modality"], g["source"])]
        assert g["n"] == len(scores)
        assert g["counts"] == {str(v): scores.count(v) for v in (5, 4, 3, 2, 1)}
        assert g["positive"] == sum(s >= 3 for s in scores)
        assert math.isclose(g["mean"], sum(scores) / len(scores))
    typed = sorted(c for p in plans.values() for _, c in p.values() if c)
    assert sorted(c["comment"] for c in result["comments"]) == typed
    out = tmp_path / "score"
    assert {p.name for p in out.iterdir()} == {"summary.json", "summary.csv", "per_reader.csv", "answers.csv",
                                               "chart.png", "report.md"}
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "e-broken.json" in report and "Krippendorff" in report and "### alpha" in report
    with (out / "answers.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 2 * len(key["images"])


def test_conflicting_duplicates_count_for_nobody(review_study: Path, tmp_path: Path) -> None:
    key = json.loads((review_study / "key.json").read_text())
    plan = _plan(key, "reader-01")
    other = {t: (5 if s != 5 else 4, c) for t, (s, c) in plan.items()}
    answers = tmp_path / "answers"
    answers.mkdir()
    _write_json(answers / "one.json", key, "reader-01", plan)
    _write_json(answers / "two.json", key, "reader-01", other)
    _write_json(answers / "three.json", key, "reader-02", _plan(key, "reader-02"))
    result = score_study(review_study / "key.json", answers, tmp_path / "score")
    assert result["readers"] == ["reader-02"]
    reasons = {s["name"]: s["reason"] for s in result["skipped"]}
    assert set(reasons) == {"one.json", "two.json"} and all("different answers" in r for r in reasons.values())


def test_cli_refuses_a_folder_without_usable_answers(review_study: Path, tmp_path: Path, capsys) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "x.json").write_text("[]")
    code = main(["study", "score", "--key", str(review_study / "key.json"), "--answers", str(answers),
                 "--out", str(tmp_path / "score")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {answers}: no usable answer file (x.json:")
    assert not (tmp_path / "score").exists()
    code = main(["study", "score", "--key", str(answers / "x.json"), "--answers", str(answers),
                 "--out", str(tmp_path / "score")])
    assert code == 2 and "not a study key" in capsys.readouterr().err
