"""The DICOM header fields that size allocations, driven by hypothesis: a Series of the declared shape or one
InputError, never another exception, and never an allocation beyond what the file holds or the memory budget."""

from __future__ import annotations

import resource
import tempfile
from pathlib import Path

import pytest

from sccg_edge.data.dicom import read_series
from sccg_edge.errors import InputError
from sccg_edge.utils.budget import BUDGET_ENV, check_allocation, memory_budget, parse_bytes

pydicom = pytest.importorskip("pydicom")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_SOURCE = pydicom.data.get_testdata_file("MR_small.dcm")  # 64 x 64, 16-bit, 8 KiB of pixels
_GROWTH_LIMIT = 256 * 2**20

_fields = st.fixed_dictionaries({
    "Rows": st.one_of(st.sampled_from([0, 1, 64, 128, 65535]), st.integers(0, 65535)),
    "Columns": st.one_of(st.sampled_from([0, 1, 64, 65535]), st.integers(0, 65535)),
    "NumberOfFrames": st.one_of(st.none(), st.sampled_from([0, 1, 2, 50_000_000]), st.integers(-5, 10**9)),
    "SamplesPerPixel": st.one_of(st.just(1), st.integers(0, 8)),
    "BitsAllocated": st.one_of(st.just(16), st.sampled_from([0, 1, 8, 32, 64]), st.integers(0, 255)),
})


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.skipif(_SOURCE is None, reason="pydicom test file MR_small.dcm not available (install pydicom-data)")
@hypothesis.settings(max_examples=60, deadline=None, database=None)
@hypothesis.given(fields=_fields)
def test_declared_size_gives_that_series_or_input_error(fields: dict) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ds = pydicom.dcmread(_SOURCE)
    for key, value in fields.items():
        if value is None:
            ds.pop(key, None)
        else:
            setattr(ds, key, value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "header.dcm"
        ds.save_as(path)
        try:
            series = read_series(path)
        except InputError as err:
            assert str(path) in str(err) or tmp in str(err)
        else:
            frames = int(fields["NumberOfFrames"] or 1)
            assert series.volume.shape == (frames, fields["Rows"], fields["Columns"])
            assert fields["Rows"] * fields["Columns"] * frames * fields["BitsAllocated"] // 8 <= 64 * 64 * 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before < _GROWTH_LIMIT


def test_budget_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUDGET_ENV, "1MiB")
    assert memory_budget() == 2**20
    with pytest.raises(InputError, match="memory budget of 1.0 MiB"):
        check_allocation(2**20 + 1, "a test array", "x.dcm")
    check_allocation(2**20, "a test array", "x.dcm")
    assert parse_bytes("2GiB") == 2 * 2**30 and parse_bytes("512 MB") == 512 * 10**6
    for bad in ("lots", "-1GiB", "0", "1 parsec"):
        with pytest.raises(ValueError):
            parse_bytes(bad)
