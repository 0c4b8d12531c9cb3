"""Fuzz the DICOM reader with mutated bytes of a real file: it returns a Series or raises InputError, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from sccg_edge.data.dicom import Series, read_series
from sccg_edge.errors import InputError

pydicom = pytest.importorskip("pydicom")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_SOURCE = pydicom.data.get_testdata_file("MR_small.dcm")  # 9.8 kB real MR slice, 64x64
_DATA = Path(_SOURCE).read_bytes() if _SOURCE else b""

_flip = st.tuples(st.just("flip"), st.integers(0, max(len(_DATA) - 1, 0)), st.integers(1, 255))
_cut = st.tuples(st.just("cut"), st.integers(0, max(len(_DATA) - 1, 0)), st.just(0))
_insert = st.tuples(st.just("insert"), st.integers(0, len(_DATA)), st.integers(0, 255))
_mutations = st.lists(st.one_of(_flip, _flip, _flip, _cut, _insert), min_size=1, max_size=6)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    """Apply byte flips (xor), truncations and insertions in order, clamping offsets to the current length."""
    buf = bytearray(data)
    for kind, offset, value in mutations:
        offset = min(offset, max(len(buf) - 1, 0))
        if kind == "flip" and buf:
            buf[offset] ^= value
        elif kind == "cut":
            del buf[offset:]
        elif kind == "insert":
            buf[offset:offset] = bytes([value])
    return bytes(buf)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.skipif(not _DATA, reason="pydicom test file MR_small.dcm not available (install pydicom-data)")
@hypothesis.settings(max_examples=200, deadline=None, database=None,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(mutations=_mutations)
def test_mutated_dicom_gives_series_or_input_error(mutations: list[tuple[str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.dcm"
        path.write_bytes(mutate(_DATA, mutations))
        try:
            result = read_series(path)
        except InputError as err:
            assert "fuzz.dcm" in str(err) or tmp in str(err)
        else:
            assert isinstance(result, Series) and result.volume.ndim == 3


def test_mutate_helper() -> None:
    assert mutate(b"abcd", [("flip", 1, 0xFF), ("cut", 3, 0), ("insert", 0, 65)]) == b"Aa\x9dc"


@pytest.mark.skipif(not _DATA, reason="pydicom test file MR_small.dcm not available (install pydicom-data)")
@pytest.mark.parametrize("mutations", [
    # found by the fuzz test: a flipped VR byte (pydicom raises NotImplementedError only when the element is used)
    [("flip", 5137, 11), ("flip", 8227, 167), ("cut", 7848, 0), ("flip", 1303, 197), ("flip", 3456, 77),
     ("cut", 8178, 0)],
    # found by the fuzz test: a SliceThickness that is no longer a number
    [("cut", 7807, 0), ("flip", 847, 138), ("cut", 4296, 0), ("flip", 8451, 25), ("flip", 5465, 92)],
])
def test_lazily_decoded_corruption_is_an_input_error(mutations: list[tuple[str, int, int]], tmp_path: Path) -> None:
    path = tmp_path / "fuzz.dcm"
    path.write_bytes(mutate(_DATA, mutations))
    with pytest.raises(InputError, match="fuzz.dcm"):
        read_series(path)
