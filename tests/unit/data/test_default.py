"""Default data resolution: real shared pairs when present, else the cached synthetic phantom."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sccg_edge.data import default
from sccg_edge.errors import InputError


def _fake_pairs(root: Path) -> Path:
    pairs = root / "brain-ct-mr-pairs"
    (pairs / "ct").mkdir(parents=True)
    (pairs / "mr").mkdir()
    return pairs


def test_env_var_folder_is_found_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = _fake_pairs(tmp_path)
    monkeypatch.setenv(default.SHARED_PAIRS_ENV, str(tmp_path))
    assert default.find_shared_pairs() == pairs.resolve()
    path, description = default.default_pairs_root()
    assert path == pairs.resolve() and "real" in description and "SYNTHETIC" not in description


def test_folder_without_ct_and_mr_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "brain-ct-mr-pairs" / "ct").mkdir(parents=True)  # no mr/
    monkeypatch.setenv(default.SHARED_PAIRS_ENV, str(tmp_path))
    found = default.find_shared_pairs()
    assert found != (tmp_path / "brain-ct-mr-pairs").resolve()
    assert found is None or ((found / "ct").is_dir() and (found / "mr").is_dir())


def test_cache_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(default.CACHE_ENV, str(tmp_path))
    assert default.phantom_cache_path(64, 2, 3) == tmp_path / "phantom-v1-64-2-3"


def test_phantom_fallback_is_generated_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    _fake_pairs(tmp_path / "shared")
    monkeypatch.setenv(default.SHARED_PAIRS_ENV, str(tmp_path / "shared"))
    monkeypatch.setenv(default.CACHE_ENV, str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger=default.__name__):
        path, description = default.default_pairs_root(prefer_shared=False, size=32, patients=1, seed=2)
    assert path == tmp_path / "cache" / "phantom-v1-32-1-2"
    assert "SYNTHETIC" in description and "SYNTHETIC" in caplog.text
    first = path / "p000" / "ct" / "000.dcm"
    assert first.is_file() and len(list((path / "p000" / "mr").glob("*.dcm"))) == 24
    stamp = first.stat().st_mtime_ns
    again, _ = default.default_pairs_root(prefer_shared=False, size=32, patients=1, seed=2)
    assert again == path and first.stat().st_mtime_ns == stamp


def test_complete_cache_folder_is_reused_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(default.CACHE_ENV, str(tmp_path))
    ready = default.phantom_cache_path(32, 1, 0)
    ready.mkdir(parents=True)
    (ready / "README.txt").write_text("SYNTHETIC")
    assert default.ensure_phantom(size=32, patients=1, seed=0) == ready
    assert [p.name for p in ready.iterdir()] == ["README.txt"]


def test_incomplete_cache_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(default.CACHE_ENV, str(tmp_path))
    broken = default.phantom_cache_path(32, 1, 0)
    broken.mkdir(parents=True)
    (broken / "stray.txt").write_text("x")
    with pytest.raises(InputError, match="not an empty folder"):
        default.ensure_phantom(size=32, patients=1, seed=0)
