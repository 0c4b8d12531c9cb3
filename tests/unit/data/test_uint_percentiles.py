"""The histogram percentiles the DICOM writer uses for an MR window equal NumPy's."""

from __future__ import annotations

import numpy as np
import pytest

from sccg_edge.data.dicom_write import uint_percentiles


@pytest.mark.parametrize("seed", range(5))
def test_uint_percentiles_equal_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4096, size=(int(rng.integers(1, 300)), 37)).astype(np.uint16)
    a[: a.shape[0] // 3] = 0  # a slice with much background
    qs = (0.0, 1.0, 37.3, 99.5, 100.0)
    np.testing.assert_allclose(uint_percentiles(a, qs), np.percentile(a, qs), rtol=0, atol=1e-9)
    assert uint_percentiles(np.array([7], np.uint16), (1.0, 99.5)) == [7.0, 7.0]
