"""Every numeric CLI option through the real CLI: out of its declared range it is refused with one line, exit 2.

Each command gets inputs that fail fast *after* its config is built (a model or input that does not exist), so an
in-range value ends in that other one-line error and an out-of-range one in the range error, both without work.
The range each option must hold is read from the config field it lands in (the one declaration).
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

import pytest

from sccg_edge.cli import main
from sccg_edge.config import (
    ConvertConfig,
    CvConfig,
    DistillConfig,
    EvalConfig,
    ExportProfile,
    QATConfig,
    QuantConfig,
    QuantTableConfig,
    SuiteConfig,
    TrainConfig,
)
from sccg_edge.config.bounds import Bounds
from tests.unit.config.test_bounds import numeric_fields

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NOPE = "/nonexistent/sccg-model"


def _bounds(cls: type, dotted: str) -> tuple[Bounds, bool]:
    return next((b, f) for d, b, f in numeric_fields(cls) if d == dotted)


def _argv(command: str, tmp: Path) -> list[str]:
    return {
        "train": ["train"],  # no --out: refused after the config is resolved
        "distill": ["distill", "--teacher", NOPE, "--out", str(tmp / "d")],
        "convert": ["convert", "--model", NOPE, "--direction", "mr2ct", "--input", str(tmp / "none"), "--out",
                    str(tmp / "o")],
        "export": ["export", "--model", NOPE, "--direction", "mr2ct", "--format", "onnx", "--out", str(tmp / "e")],
        "quantize": ["quantize", "--model", NOPE, "--direction", "mr2ct", "--int8", "--target", "onnx", "--out",
                     str(tmp / "q")],
        "quant-table": ["quant-table", "--model", NOPE, "--out", str(tmp / "qt")],
        "bench": ["bench", "--models", NOPE, "--out", str(tmp / "b")],
        "evaluate": ["evaluate", "--model", NOPE],
        "cv": ["cv", "--report-only", "--out", str(tmp / "cv")],
    }[command]


#: (command, option, config class, dotted key the option lands in)
OPTIONS = [
    ("train", "--epochs", TrainConfig, "optim.epochs"), ("train", "--batch-size", TrainConfig, "optim.batch_size"),
    ("train", "--lr", TrainConfig, "optim.lr"), ("train", "--size", TrainConfig, "data.size"),
    ("train", "--max-minutes", TrainConfig, "max_minutes"), ("train", "--max-steps", TrainConfig, "max_steps"),
    ("distill", "--epochs", DistillConfig, "optim.epochs"), ("distill", "--max-minutes", DistillConfig, "max_minutes"),
    ("distill", "--max-steps", DistillConfig, "max_steps"),
    ("convert", "--size", ConvertConfig, "size"), ("convert", "--threads", ConvertConfig, "threads"),
    ("export", "--size", ExportProfile, "sizes"),
    ("quantize", "--size", QuantConfig, "size"), ("quantize", "--max-psnr-drop", QuantConfig, "max_psnr_drop"),
    ("quantize", "--qat-steps", QATConfig, "steps"),
    ("quant-table", "--size", QuantTableConfig, "size"), ("quant-table", "--qat-steps", QuantTableConfig, "qat_steps"),
    ("quant-table", "--threads", QuantTableConfig, "threads"), ("quant-table", "--iters", QuantTableConfig, "iters"),
    ("bench", "--size", SuiteConfig, "sizes"), ("bench", "--threads", SuiteConfig, "threads"),
    ("bench", "--warmup", SuiteConfig, "warmup"), ("bench", "--iters", SuiteConfig, "iters"),
    ("bench", "--fidelity-slices", SuiteConfig, "fidelity_slices"),
    ("evaluate", "--set", EvalConfig, "size"),
    ("cv", "--folds", CvConfig, "folds"), ("cv", "--budget-minutes", CvConfig, "budget_minutes"),
    ("cv", "--student-budget-minutes", CvConfig, "student_budget_minutes"),
]


def _values(b: Bounds, is_float: bool) -> st.SearchStrategy:
    edges: list[Any] = [b.lo, b.lo - (1e-6 if is_float else b.multiple), -1, 0, 7, 100000]
    edges += [b.hi, b.hi + (1 if is_float else b.multiple)] if math.isfinite(b.hi) else []
    edges += [math.nan, math.inf, -math.inf] if is_float else []
    wide = st.floats(-1e7, 1e7) if is_float else st.integers(-10**7, 10**7)
    cast = float if is_float else int
    return st.one_of(st.sampled_from(edges), wide).map(lambda v: v if not math.isfinite(v) else cast(v))


def _run(argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, [line for line in err.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("command,option,cls,dotted", OPTIONS, ids=[f"{c} {o} {d}" for c, o, _, d in OPTIONS])
@hypothesis.settings(max_examples=6, deadline=None, database=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(data=st.data())
def test_numeric_option_range(command: str, option: str, cls: type, dotted: str, data: Any, tmp_path: Path) -> None:
    bounds, is_float = _bounds(cls, dotted)
    value = data.draw(_values(bounds, is_float))
    tail = [option, f"{dotted}={value}"] if option == "--set" else [option, str(value)]
    rc, lines = _run(_argv(command, tmp_path / str(abs(hash(str(value))))) + tail)
    key = dotted.split(".")[-1]
    if bounds.accepts(value) or (option == "--size" and dotted == "sizes" and value == 0):  # 0: the default sizes
        assert rc in (0, 2) and not any(f"{key}' must be" in line for line in lines), lines
        return
    assert rc == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert f"{key}' must be" in lines[0] or f"{key}[0]' must be" in lines[0], lines[0]
