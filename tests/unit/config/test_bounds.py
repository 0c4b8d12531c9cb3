"""Every numeric config field has a declared range, checked in one place, for recipes, --set and code alike."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import pytest

from sccg_edge.config import (
    ConvertConfig,
    CvConfig,
    DistillConfig,
    EvalConfig,
    ExportConfig,
    QuantConfig,
    QuantTableConfig,
    SuiteConfig,
    TrainConfig,
    apply_overrides,
)
from sccg_edge.config.bounds import NUMBER, Bounds, field_bounds
from sccg_edge.errors import ConfigError

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

ROOTS = (TrainConfig, DistillConfig, CvConfig, ConvertConfig, EvalConfig, QuantConfig, ExportConfig, SuiteConfig,
         QuantTableConfig)


def numeric_fields(cls: type, prefix: str = "") -> list[tuple[str, Bounds, bool]]:
    """(dotted key, declared range, is float) of every numeric field under config class ``cls``."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            out += numeric_fields(hint, f"{prefix}{f.name}.")
            continue
        base = {a for a in (typing.get_args(hint) or (hint,)) if a is not type(None)}
        base = {typing.get_args(a)[0] if typing.get_origin(a) is tuple else a for a in base}
        if base & {int, float}:
            out.append((f"{prefix}{f.name}", field_bounds(f), float in base))
    return out


FIELDS = [(cls, *f) for cls in ROOTS for f in numeric_fields(cls)]


def edges(b: Bounds, is_float: bool) -> list[float]:
    """Values on and just beyond each end of a range, and the classic bad ones."""
    step = 1e-9 if is_float else b.multiple
    vals = [b.lo, b.lo - step, -1, 0, 7]
    if math.isfinite(b.hi):
        vals += [b.hi, b.hi + step]
    if is_float:
        vals += [math.nan, math.inf, -math.inf]
    return vals


def values(b: Bounds, is_float: bool) -> st.SearchStrategy:
    wide = st.floats(allow_nan=True, allow_infinity=True) if is_float else st.integers(-2**40, 2**40)
    return st.one_of(st.sampled_from(edges(b, is_float)), wide)


def test_every_root_has_ranged_numbers() -> None:
    assert len(FIELDS) > 60
    declared = [f for f in FIELDS if f[2] is not NUMBER]
    assert len(declared) > 30  # sizes, batches, learning rates, widths, threads, ... declare their own range


@pytest.mark.parametrize("cls,dotted,bounds,is_float", FIELDS, ids=[f"{c.__name__}.{d}" for c, d, _, _ in FIELDS])
@hypothesis.settings(max_examples=12, deadline=None, database=None)
@hypothesis.given(data=st.data())
def test_override_out_of_range_is_refused(cls: type, dotted: str, bounds: Bounds, is_float: bool,
                                          data: Any) -> None:
    value = data.draw(values(bounds, is_float))
    if not is_float and isinstance(value, float):
        value = int(value) if math.isfinite(value) else value
    if "[" not in dotted and typing.get_origin(typing.get_type_hints(cls).get(dotted)) is tuple:
        value = [value]
    try:
        apply_overrides(cls(), {dotted: value}, source="--set")
    except ConfigError as err:
        text = str(err)
        if _accepts(bounds, value):  # in range: only a rule between fields may refuse it, never the range
            assert f"'{dotted}' must be" not in text, text
        else:
            assert dotted.split(".")[-1] in text and "must be" in text, text
        return
    assert _accepts(bounds, value), f"{dotted}={value!r} was accepted outside {bounds.describe()}"


def _accepts(b: Bounds, value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return all(isinstance(v, (int, float)) and b.accepts(v) for v in items)


@pytest.mark.parametrize("cls", [ConvertConfig, QuantConfig, EvalConfig, SuiteConfig, QuantTableConfig])
def test_code_built_configs_hold_the_same_ranges(cls: type) -> None:
    key = "sizes" if cls is SuiteConfig else "size"
    with pytest.raises(ConfigError, match=f"'{key}"):
        cls(**{key: (100000,) if cls is SuiteConfig else 100000})
    cls(**{key: (256,) if cls is SuiteConfig else 256})


def test_ct_window_choices_match_the_transforms() -> None:
    from sccg_edge.config import CHOICES
    from sccg_edge.data.transforms import CT_WINDOWS

    assert set(CHOICES["data.ct_window"]) == set(CT_WINDOWS)


def test_describe_reads_as_a_rule() -> None:
    assert Bounds(16, 4096, multiple=4).describe() == "a multiple of 4 from 16 to 4096"
    assert Bounds(0, 1, lo_open=True).describe() == "a number in (0, 1]"
    assert Bounds(1, 8, off=True).describe() == "a number from 1 to 8 (or 0: off)"
    assert not NUMBER.accepts(math.nan) and not NUMBER.accepts(-1) and NUMBER.accepts(0)
