"""Read a study's key and the answer files readers send back, refusing anything that does not fit.

An answer file is what a reader's page exports: JSON (``answers-<study>-<reader>.json``) or CSV (the same rows). A
file is used only when it belongs to this study, names a reader of the key, and answers every image of that reader
exactly once with one of the five levels. Anything else (unreadable, another study, unknown or repeated images,
a partial file, a second file of the same reader) is reported by name with the reason and skipped; files are never
merged.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sccg_edge.errors import InputError
from sccg_edge.review.study import ANSWERS_FORMAT, KEY_FORMAT, study_id

CSV_COLUMNS = ["study", "reader", "position", "item", "modality", "score", "answer", "comment"]


class BadAnswerFile(Exception):
    """An answer file that cannot be used; the message says why."""


@dataclass
class ReaderAnswers:
    """One usable answer file: ``answers`` maps image token -> (score 1..5, comment)."""

    path: Path
    reader: str
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Skipped:
    """An answer file left out, and why."""

    name: str
    reason: str


def load_key(path: Path) -> dict[str, Any]:
    """The study key written by :func:`sccg_edge.review.study.make_study`, checked."""
    path = Path(path)
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read the study key ({err}); give the key.json written by `study make`",
                         path) from None
    needed = ("study", "images", "readers", "levels", "positive", "seed")
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT or any(k not in key for k in needed):
        raise InputError(f"not a study key (format {KEY_FORMAT}); give the key.json written by `study make`", path)
    if study_id(key) != key["study"]:
        raise InputError("the key was edited: its images or reader orders no longer match its study id", path)
    return key


def collect_answers(folder: Path, key: dict[str, Any]) -> tuple[list[ReaderAnswers], list[Skipped]]:
    """Every usable answer file in ``folder`` (one per reader) and every file skipped, with the reason."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("answers folder not found; give the folder holding the files readers sent back", folder)
    good: list[ReaderAnswers] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if not path.is_file() or path.suffix.lower() not in (".json", ".csv"):
            skipped.append(Skipped(path.name, "not an answer file (.json or .csv)"))
            continue
        try:
            good.append(read_answer_file(path, key))
        except BadAnswerFile as err:
            skipped.append(Skipped(path.name, str(err)))
    return _one_per_reader(good, skipped)


def _one_per_reader(files: list[ReaderAnswers],
                    skipped: list[Skipped]) -> tuple[list[ReaderAnswers], list[Skipped]]:
    """Keep one file per reader: identical copies are skipped as duplicates, differing ones are all skipped."""
    by_reader: dict[str, list[ReaderAnswers]] = {}
    for f in files:
        by_reader.setdefault(f.reader, []).append(f)
    kept = []
    for reader, group in sorted(by_reader.items()):
        first = group[0]
        if all(g.answers == first.answers for g in group[1:]):
            kept.append(first)
            skipped += [Skipped(g.path.name, f"duplicate of {first.path.name} ({reader}); counted once")
                        for g in group[1:]]
        else:
            names = ", ".join(g.path.name for g in group)
            skipped += [Skipped(g.path.name, f"{reader} sent {len(group)} files with different answers ({names}); "
                                            "which one holds is unknown, so none is counted: ask for one file")
                        for g in group]
    return kept, skipped


def read_answer_file(path: Path, key: dict[str, Any]) -> ReaderAnswers:
    """Read and check one answer file against the key; raises :class:`BadAnswerFile` with the reason."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # no newline translation: comments keep their line breaks
    except (OSError, UnicodeDecodeError) as err:
        raise BadAnswerFile(f"unreadable ({err})") from None
    study, reader, rows = _parse_csv(text) if path.suffix.lower() == ".csv" else _parse_json(text)
    if study != key["study"]:
        raise BadAnswerFile(f"belongs to study '{study}', not to this key's study '{key['study']}'")
    if reader not in key["readers"]:
        raise BadAnswerFile(f"names reader '{reader}', who is not in this study")
    return ReaderAnswers(path=path, reader=reader, answers=_check_rows(rows, key, reader))


def _parse_json(text: str) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadAnswerFile(f"malformed JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != ANSWERS_FORMAT:
        raise BadAnswerFile(f"not an answer file of a study page (format {ANSWERS_FORMAT})")
    if not isinstance(doc.get("answers"), list) or not all(isinstance(r, dict) for r in doc["answers"]):
        raise BadAnswerFile("malformed: 'answers' is not a list of objects")
    return str(doc.get("study")), str(doc.get("reader")), doc["answers"]


def _parse_csv(text: str) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise BadAnswerFile(f"malformed CSV ({err})") from None
    if not table or table[0] != CSV_COLUMNS:
        raise BadAnswerFile(f"malformed CSV: the header must be {','.join(CSV_COLUMNS)}")
    body = [r for r in table[1:] if r]
    if any(len(r) != len(CSV_COLUMNS) for r in body):
        raise BadAnswerFile(f"malformed CSV: every row needs {len(CSV_COLUMNS)} fields")
    rows = [dict(zip(CSV_COLUMNS, r)) for r in body]
    studies, readers = {r["study"] for r in rows}, {r["reader"] for r in rows}
    if len(studies) > 1 or len(readers) > 1:
        raise BadAnswerFile("malformed CSV: rows of more than one study or reader")
    if not rows:
        raise BadAnswerFile("malformed CSV: no answer rows")
    return studies.pop(), readers.pop(), rows


def _score(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadAnswerFile(f"malformed: score {value!r} is not a number")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise BadAnswerFile(f"malformed: score {value!r} is not a number") from None
    if not num.is_integer() or not 1 <= num <= 5:
        raise BadAnswerFile(f"malformed: score {value!r} is not one of 1..5")
    return int(num)


def _check_rows(rows: list[dict[str, Any]], key: dict[str, Any], reader: str) -> dict[str, tuple[int, str]]:
    """Token -> (score, comment) of a complete, consistent set of rows for ``reader``."""
    expected = key["readers"][reader]
    labels = {int(s): name for s, name in key["levels"]}
    out: dict[str, tuple[int, str]] = {}
    seen: set[str] = set()
    unanswered = 0
    for row in rows:
        token = str(row.get("item"))
        if token not in key["images"] or token not in set(expected):
            raise BadAnswerFile(f"malformed: image '{token}' is not one of {reader}'s images")
        if token in seen:
            raise BadAnswerFile(f"malformed: image '{token}' is answered twice")
        seen.add(token)
        if row.get("modality") not in (None, "", key["images"][token]["modality"]):
            raise BadAnswerFile(f"malformed: image '{token}' is listed as {row.get('modality')}, but it is "
                                f"{key['images'][token]['modality']}")
        score = _score(row.get("score"))
        if score is None:
            unanswered += 1
            continue
        answer = row.get("answer")
        if answer not in (None, "") and answer != labels[score]:
            raise BadAnswerFile(f"malformed: image '{token}' has score {score} but answer '{answer}'")
        comment = row.get("comment")
        out[token] = (score, "" if comment is None else str(comment))
    missing = len(expected) - len(seen)
    if unanswered or missing:
        raise BadAnswerFile(f"partial: {len(out)} of {len(expected)} images answered; the reader has to finish "
                            "and download the answers again")
    return out
