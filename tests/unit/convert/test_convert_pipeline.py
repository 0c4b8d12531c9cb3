"""Conversion at model speed: the overlapped pipeline gives what slice-by-slice conversion gives, artifact folders
load as they are, a resampled series says so, and an OpenVINO conversion starts without importing torch."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sccg_edge.backends import backend_for_artifact
from sccg_edge.config import ConvertConfig
from sccg_edge.convert import convert_path, load_translator
from sccg_edge.errors import InputError
from sccg_edge.utils.pipeline import BackgroundTasks, prefetch_map
from tests.conftest import REPO_ROOT

pydicom = pytest.importorskip("pydicom")


def _series(src: Path, dest: Path, n: int) -> Path:
    from sccg_edge.data.dicom import scan_series

    dest.mkdir(parents=True)
    for f in scan_series(src).files[:n]:
        shutil.copy2(f, dest / f.name)
    return dest


def _pixels(folder: Path) -> np.ndarray:
    return np.stack([pydicom.dcmread(p).pixel_array.astype(np.float64) for p in sorted(folder.glob("*.dcm"))])


@pytest.fixture(scope="module")
def onnx_folder(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact folder as export writes it: model.onnx (mr2ct, 32x32) and a card naming it."""
    from sccg_edge.export import export_onnx
    from sccg_edge.models.loading import load_generator

    folder = tmp_path_factory.mktemp("artifact") / "onnx-fp32"
    folder.mkdir()
    export_onnx(load_generator(str(tiny_model), "mr2ct").model, folder / "model.onnx", 32)
    (folder / "card.json").write_text(json.dumps({"file": "model.onnx", "size": 32, "direction": "mr2ct",
                                                  "ct_window": "brain"}))
    return folder


def test_prefetch_keeps_order_and_raises_where_the_failure_is() -> None:
    assert list(prefetch_map(lambda i: i * i, range(20), workers=3, ahead=4)) == [i * i for i in range(20)]
    assert list(prefetch_map(lambda i: -i, range(5), workers=0)) == [0, -1, -2, -3, -4]

    def boom(i: int) -> int:
        if i == 7:
            raise ValueError("slice 7")
        return i

    got = []
    with pytest.raises(ValueError, match="slice 7"):
        for v in prefetch_map(boom, range(20), workers=2, ahead=3):
            got.append(v)
    assert got == list(range(7))


def test_background_tasks_run_all_and_reraise() -> None:
    done: list[int] = []
    with BackgroundTasks(backlog=2) as tasks:
        for i in range(10):
            tasks.submit(done.append, i)
    assert done == list(range(10))
    with pytest.raises(RuntimeError, match="disk"), BackgroundTasks(backlog=2) as tasks:
        tasks.submit(lambda: (_ for _ in ()).throw(RuntimeError("disk full")))
        tasks.wait()


def _negate_or_fail(i: int) -> int:
    if i == 7:
        raise InputError("slice 7 is corrupt; copy it again", Path("/data/I7.dcm"))
    return -i


def test_decoder_processes_fork_only_when_safe_and_keep_order_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from concurrent.futures import ProcessPoolExecutor

    import sccg_edge.utils.pipeline as pipeline
    from sccg_edge.utils.pipeline import decoder_processes

    # a `sccg-edge convert` process forks while it has one thread; in this long-lived test process libraries have
    # left idle threads (OpenVINO's), so the single-threaded state is simulated for the first part
    with monkeypatch.context() as m:
        m.setattr(pipeline.threading, "active_count", lambda: 1)
        with decoder_processes(2) as pool:
            assert isinstance(pool, ProcessPoolExecutor)
            assert list(prefetch_map(_negate_or_fail, range(7), executor=pool, ahead=3)) == [0, -1, -2, -3, -4, -5,
                                                                                              -6]
            got = []
            with pytest.raises(InputError, match=r"I7\.dcm: slice 7 is corrupt"):  # the child's error, intact
                for v in prefetch_map(_negate_or_fail, range(20), executor=pool, ahead=3):
                    got.append(v)
            assert got == [0, -1, -2, -3, -4, -5, -6]
    with decoder_processes(0) as pool:
        assert pool is None
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a server's threads: forking now could copy a held lock
    other.start()
    try:
        with decoder_processes(2) as pool:
            assert pool is None
    finally:
        stop.set()
        other.join()


def test_pipelined_conversion_equals_slice_by_slice(tiny_model: Path, porcine_t2_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sccg_edge.convert.dicom as convert_dicom
    from sccg_edge.utils.pipeline import decoder_processes

    used = []

    @contextlib.contextmanager
    def spy(workers: int) -> Iterator[Any]:
        with decoder_processes(workers) as pool:
            used.append(pool)
            yield pool

    monkeypatch.setattr(convert_dicom, "decoder_processes", spy)
    monkeypatch.setattr("sccg_edge.utils.pipeline.threading.active_count", lambda: 1)  # as in a fresh CLI process
    inp = _series(porcine_t2_dir, tmp_path / "in", 6)  # 6 slices: one full batch of 4 and a padded one
    fast = convert_path(inp, tmp_path / "fast", ConvertConfig(model=str(tiny_model), direction="mr2ct", threads=1),
                        progress=False)
    assert used and used[0] is not None  # the default conversion decoded in forked processes
    slow = convert_path(inp, tmp_path / "slow", ConvertConfig(model=str(tiny_model), direction="mr2ct", threads=1,
                                                              batch=1, workers=0), progress=False)
    assert fast["n_slices"] == slow["n_slices"] == 6
    a, b = _pixels(tmp_path / "fast"), _pixels(tmp_path / "slow")
    assert a.shape == (6, 512, 512) and a.std() > 0
    assert np.abs(a - b).max() <= 1.0  # the same slices in the same files (torch fp32: batch-invariant)
    numbers = [int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber)
               for p in sorted((tmp_path / "fast").glob("*.dcm"))]
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_resampled_series_says_so(tiny_model: Path, porcine_t2_dir: Path, tmp_path: Path) -> None:
    inp = _series(porcine_t2_dir, tmp_path / "in", 2)
    summary = convert_path(inp, tmp_path / "out", ConvertConfig(model=str(tiny_model), direction="mr2ct"),
                           progress=False)
    assert summary["resampled"] == "512x512 slices resampled to the model's 32x32 and back"
    ds = pydicom.dcmread(sorted((tmp_path / "out").glob("*.dcm"))[0], stop_before_pixels=True)
    assert "resampled 32px" in ds.SeriesDescription and len(ds.SeriesDescription) <= 64
    assert "512x512" in ds.ImageComments
    at_size = convert_path(inp, tmp_path / "same", ConvertConfig(model=str(tiny_model), direction="mr2ct", size=512),
                           progress=False)
    assert at_size["resampled"] is None
    ds = pydicom.dcmread(sorted((tmp_path / "same").glob("*.dcm"))[0], stop_before_pixels=True)
    assert "resampled" not in ds.SeriesDescription and "ImageComments" not in ds


def test_artifact_folder_loads_like_its_file(onnx_folder: Path, porcine_t2_dir: Path, tmp_path: Path) -> None:
    assert backend_for_artifact(onnx_folder) == "onnxruntime"
    tr = load_translator(ConvertConfig(model=str(onnx_folder), direction="mr2ct"))
    assert (tr.backend, tr.size, tr.label, tr.batch) == ("onnxruntime", 32, "onnx-fp32", 1)
    inp = _series(porcine_t2_dir, tmp_path / "in", 2)
    by_folder = convert_path(inp, tmp_path / "a", ConvertConfig(model=str(onnx_folder), direction="mr2ct"),
                             progress=False)
    by_file = convert_path(inp, tmp_path / "b", ConvertConfig(model=str(onnx_folder / "model.onnx"),
                                                              direction="mr2ct"), progress=False)
    assert by_folder["backend"] == by_file["backend"] == "onnxruntime"
    np.testing.assert_array_equal(_pixels(tmp_path / "a"), _pixels(tmp_path / "b"))


def test_openvino_folder_prefers_the_ir_and_starts_without_torch(onnx_folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from sccg_edge.export import to_openvino

    folder = tmp_path / "ov"
    shutil.copytree(onnx_folder, folder)  # an OpenVINO export keeps model.onnx beside model.xml
    to_openvino(folder / "model.onnx", folder / "model.xml")
    (folder / "card.json").write_text(json.dumps({"size": 32, "direction": "mr2ct"}))
    assert backend_for_artifact(folder) == "openvino"
    code = ("import sys; from sccg_edge.config import ConvertConfig; from sccg_edge.convert import load_translator; "
            f"tr = load_translator(ConvertConfig(model={str(folder)!r}, direction='mr2ct')); "
            "print(tr.backend, tr.batch, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["openvino", "4", "False"]


def test_convert_keeps_compiled_openvino_models_in_the_cache_folder(onnx_folder: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    from sccg_edge.backends import load_backend
    from sccg_edge.export import to_openvino

    monkeypatch.setenv("SCCG_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "ov"
    shutil.copytree(onnx_folder, folder)
    to_openvino(folder / "model.onnx", folder / "model.xml")
    (folder / "card.json").write_text(json.dumps({"size": 32, "direction": "mr2ct"}))  # the IR is the artifact
    load_backend("openvino", folder / "model.xml").prepare((1, 1, 32, 32))  # bench, quantize: no cache by default
    assert not (tmp_path / "cache" / "openvino").exists()
    tr = load_translator(ConvertConfig(model=str(folder), direction="mr2ct"), prepare=True)  # compiled now
    blobs = [p for p in (tmp_path / "cache" / "openvino").iterdir() if p.is_file()]
    assert tr.backend == "openvino" and blobs and sum(p.stat().st_size for p in blobs) > 1000
    x = np.zeros((tr.batch, 1, 32, 32), np.float32)
    again = load_translator(ConvertConfig(model=str(folder), direction="mr2ct"), prepare=True)  # a cache hit
    np.testing.assert_allclose(again.infer(x), tr.infer(x), atol=1e-6)


def test_flip_tta_averages_the_mirrored_prediction_and_is_labelled(tiny_model: Path, porcine_t2_dir: Path,
                                                                   tmp_path: Path) -> None:
    plain = load_translator(ConvertConfig(model=str(tiny_model), direction="mr2ct", threads=1))
    flip = load_translator(ConvertConfig(model=str(tiny_model), direction="mr2ct", threads=1, tta="flip"))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 32, 32)).astype(np.float32)
    want = 0.5 * (plain.infer(x) + plain.infer(np.ascontiguousarray(x[..., ::-1]))[..., ::-1])
    np.testing.assert_allclose(flip.infer(x), want, atol=1e-5)
    assert np.abs(flip.infer(x) - plain.infer(x)).max() > 1e-4  # the tiny model is not mirror-symmetric
    inp = _series(porcine_t2_dir, tmp_path / "in", 2)
    summary = convert_path(inp, tmp_path / "out", ConvertConfig(model=str(tiny_model), direction="mr2ct", tta="flip"),
                           progress=False)
    assert summary["tta"] == "flip" and "flip-TTA" in summary["model"]
    ds = pydicom.dcmread(sorted((tmp_path / "out").glob("*.dcm"))[0], stop_before_pixels=True)
    assert "flip-TTA" in ds.SeriesDescription or "flip-TTA" in str(ds.get("DerivationDescription", ""))
    with pytest.raises(Exception, match="--tta"):
        ConvertConfig(model=str(tiny_model), tta="rotate")
