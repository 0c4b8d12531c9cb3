"""Patient cross-validation: folds never share patients (the study end to end: tests/integration/test_cv.py)."""

from __future__ import annotations

import pytest

from sccg_edge.train.cv import fold_splits


def test_fold_splits_cover_every_patient_once_as_test():
    patients = ["34", "2", "16", "20", "21", "28", "32", "33"]
    splits = fold_splits(patients, 4)
    assert [s["test"] for s in splits] == [["2", "16"], ["20", "21"], ["28", "32"], ["33", "34"]]
    for s in splits:
        assert not set(s["test"]) & set(s["val"]) and not set(s["train"]) & set(s["test"] + s["val"])
        assert sorted(s["train"] + s["val"] + s["test"], key=int) == sorted(patients, key=int)
    with pytest.raises(Exception, match="at most 2 folds"):
        fold_splits(["1", "2", "3", "4"], 3)


