"""Outputs checked before they are written, filesystem and concurrency faults, signals and failed starts (issue 17,
classes 3-5), through the real CLI: one ``error: <path>: ...`` line, exit 2 (130/143 for signals), no traceback,
nothing partial or non-finite left under an output name, inputs untouched."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import pydicom
import pytest
import yaml

from sccg_edge.cli import main
from tests.conftest import snapshot, train_cmd
from tests.corpus.cases import Env as CorpusEnv
from tests.corpus.cases import convert_argv, copy_in, edited, pydicom_file
from tests.corpus.faults import (
    cli,
    float_image,
    hold_claim,
    nan_model,
    signal_mid_work,
    strip_onnx_metadata,
    tmpfs,
)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    rc = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err, captured.err
    return rc, captured.err


def assert_one_line(rc: int, err: str, match: str, name: str, code: int = 2) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert name in lines[0] and re.search(match, lines[0]), lines[0]
    return lines[0]


def nothing_left(where: Path, name: str) -> None:
    """Neither ``name`` nor a temporary sibling of it (``.name.*``) exists in ``where``."""
    assert not (where / name).exists()
    assert not [p.name for p in where.iterdir() if p.name.startswith(f".{name}.")]


@pytest.fixture(scope="module")
def env(tiny_model: Path) -> CorpusEnv:
    return CorpusEnv(model=tiny_model, fixture=lambda name: pytest.skip(f"no fixture {name} here"))


@pytest.fixture(scope="module")
def artifacts(tiny_model: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """mr2ct artifacts written by the real ``export`` command: ONNX and OpenVINO IR (size 32)."""
    root = tmp_path_factory.mktemp("artifacts")
    made = {}
    for fmt, file in (("onnx", "model.onnx"), ("openvino", "model.xml")):
        rc = main(["export", "--model", str(tiny_model / "g_mr2ct.safetensors"), "--direction", "mr2ct", "--format",
                   fmt, "--size", "32", "--data", str(tiny_data), "--set", "val_max_slices=2", "--out",
                   str(root / fmt), "--json"])
        assert rc == 0
        made[fmt] = root / fmt / file
    return made


# ---------------------------------------------------------------------------------------------- 3. outputs checked


def with_out(argv: list[str], out: Path) -> list[str]:
    argv = list(argv)
    argv[argv.index("--out") + 1] = str(out)
    return argv


def mr_input(w: Path) -> Path:
    return copy_in(w, [pydicom_file("MR_small.dcm")])


def ct_input(w: Path) -> Path:
    return copy_in(w, [pydicom_file("CT_small.dcm")])


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_model_writes_nothing(value: float, env: CorpusEnv, tmp_path: Path, capsys) -> None:
    model = nan_model(env.model / "g_mr2ct.safetensors", tmp_path / "m" / "g_mr2ct.safetensors", value)
    argv = convert_argv(env, mr_input(tmp_path), tmp_path, "mr2ct")
    argv[argv.index("--model") + 1] = str(model)
    rc, err = run_cli(argv, capsys)
    assert_one_line(rc, err, "NaN or infinite", "g_mr2ct.safetensors")
    nothing_left(tmp_path, "out")


def test_non_finite_model_on_png_folder_writes_nothing(env: CorpusEnv, tmp_path: Path, capsys) -> None:
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.new("L", (32, 32), 90).save(tmp_path / "in" / "a.png")
    model = nan_model(env.model / "g_mr2ct.safetensors", tmp_path / "m" / "g_mr2ct.safetensors")
    argv = convert_argv(env, tmp_path / "in", tmp_path, "mr2ct")
    argv[argv.index("--model") + 1] = str(model)
    assert_one_line(*run_cli(argv, capsys), "NaN or infinite", "g_mr2ct.safetensors")
    nothing_left(tmp_path, "out")


def test_export_records_direction_in_onnx_and_card(artifacts: dict[str, Path]) -> None:
    from sccg_edge.backends.cards import artifact_metadata, onnx_metadata

    inside = onnx_metadata(artifacts["onnx"])
    assert inside["direction"] == "mr2ct" and inside["size"] == "32" and inside["precision"] == "fp32"
    assert inside["model"].endswith("g_mr2ct.safetensors")
    assert artifact_metadata(artifacts["openvino"])["direction"] == "mr2ct"


@pytest.mark.parametrize("fmt,alone,where", [
    ("onnx", False, "ONNX metadata"), ("onnx", True, "ONNX metadata"), ("openvino", False, "card.json"),
])
def test_artifact_refuses_the_other_direction(fmt: str, alone: bool, where: str, artifacts, env, tmp_path: Path,
                                              capsys) -> None:
    model = artifacts[fmt]
    if alone:  # copied away from its card: the file itself still says what it translates
        model = Path(shutil.copy(model, tmp_path / "copied.onnx"))
    argv = convert_argv(env, ct_input(tmp_path), tmp_path, "ct2mr")
    argv[argv.index("--model") + 1] = str(model)
    line = assert_one_line(*run_cli(argv, capsys), "holds the mr2ct generator.*use --direction mr2ct", model.name)
    assert where in line
    nothing_left(tmp_path, "out")


def test_artifact_without_recorded_direction_needs_and_takes_explicit_direction(artifacts, env, tmp_path: Path,
                                                                                capsys) -> None:
    legacy = strip_onnx_metadata(artifacts["onnx"], tmp_path / "legacy" / "model.onnx")  # no card beside it
    from sccg_edge.backends import load_backend

    assert load_backend("onnxruntime", legacy).direction is None  # unknown: the command's --direction decides
    argv = convert_argv(env, mr_input(tmp_path), tmp_path, "mr2ct", "--size", "32")  # no card: no size either
    argv[argv.index("--model") + 1] = str(legacy)
    rc, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert list((tmp_path / "out").glob("*.dcm"))


def test_one_series_mixing_modalities_is_refused(env, tmp_path: Path, capsys) -> None:
    mr = pydicom_file("MR_small.dcm")
    uid = pydicom.dcmread(mr, stop_before_pixels=True).SeriesInstanceUID
    folder = copy_in(tmp_path, [mr])
    edited(pydicom_file("CT_small.dcm"), folder / "ct.dcm", lambda ds: setattr(ds, "SeriesInstanceUID", uid))
    before = snapshot(folder)
    line = assert_one_line(*run_cli(convert_argv(env, folder, tmp_path, "mr2ct"), capsys), "mixes modalities", "in")
    assert "ct.dcm is CT" in line and "MR_small.dcm is MR" in line
    assert snapshot(folder) == before
    nothing_left(tmp_path, "out")


@pytest.mark.parametrize("spacing", [[-1, 0], [0, 0.5], [0.5, -0.5]])
def test_non_positive_pixel_spacing_is_refused(spacing, env, tmp_path: Path, capsys) -> None:
    path = edited(pydicom_file("MR_small.dcm"), tmp_path / "in" / "mr.dcm",
                  lambda ds: setattr(ds, "PixelSpacing", spacing))
    assert_one_line(*run_cli(convert_argv(env, path, tmp_path, "mr2ct"), capsys), "PixelSpacing", "mr.dcm")
    nothing_left(tmp_path, "out")


def test_float_tiff_named_png_with_nan_is_refused(env, tmp_path: Path, capsys) -> None:
    float_image(tmp_path / "in" / "a.png")
    assert_one_line(*run_cli(convert_argv(env, tmp_path / "in", tmp_path, "mr2ct"), capsys), "NaN", "a.png")
    nothing_left(tmp_path, "out")


def test_float_image_without_nan_still_reads(tmp_path: Path) -> None:
    from sccg_edge.data.pairs import read_png_unit

    unit = read_png_unit(float_image(tmp_path / "a.png", nan_at=None))
    assert unit.shape == (16, 16) and float(unit.max()) > 0.5


@pytest.mark.parametrize("scale", ["hu", "uint8"])
def test_metrics_of_ct_refuses_an_mr_series(scale: str, tmp_path: Path, capsys) -> None:
    for side in ("pred", "gt"):
        copy_in(tmp_path / side, [pydicom_file("MR_small.dcm")])
    rc, err = run_cli(["metrics", str(tmp_path / "pred" / "in"), str(tmp_path / "gt" / "in"), "--scale", scale],
                      capsys)
    assert_one_line(rc, err, f"Modality is MR, not CT; the {scale} scale", "MR_small.dcm")


# ---------------------------------------------------------------------------------------------- 4. filesystem faults


def test_output_under_a_file(env, tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("x")
    argv = with_out(convert_argv(env, mr_input(tmp_path), tmp_path, "mr2ct"), tmp_path / "afile" / "out")
    assert_one_line(*run_cli(argv, capsys), "which is a file", "afile/out")
    rc, err = run_cli(["data", "phantom", "--out", str(tmp_path / "afile" / "ph"), "--patients", "1", "--size",
                       "16"], capsys)
    assert_one_line(rc, err, "which is a file", "afile/ph")
    assert (tmp_path / "afile").read_text() == "x"


def _read_only_commands(env: CorpusEnv, w: Path, ro: Path, tiny_data: Path) -> dict[str, list[str]]:
    model = str(env.model / "g_mr2ct.safetensors")
    return {
        "convert": with_out(convert_argv(env, mr_input(w), w, "mr2ct"), ro / "out"),
        "phantom": ["data", "phantom", "--out", str(ro / "ph"), "--patients", "1", "--size", "16"],
        "export": ["export", "--model", model, "--direction", "mr2ct", "--format", "onnx", "--size", "32", "--data",
                   str(tiny_data), "--out", str(ro / "x")],
        "quantize": ["quantize", "--model", model, "--direction", "mr2ct", "--fp16", "--target", "onnx", "--size",
                     "32", "--data", str(tiny_data), "--out", str(ro / "q")],
        "bench": ["bench", "--models", model, "--precisions", "fp32", "--backends", "torch", "--size", "32",
                  "--data", str(tiny_data), "--out", str(ro / "b")],
        "train": [*train_cmd(tiny_data, ro / "run", 1)],
        "gallery": ["gallery", "--models", str(env.model), "--data", str(tiny_data), "--reference", "none", "--out",
                    str(ro / "g")],
    }


def test_read_only_output_is_refused_before_the_work(env, tmp_path: Path, tiny_data: Path, capsys) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        for name, argv in _read_only_commands(env, tmp_path, ro, tiny_data).items():
            rc, err = run_cli(argv, capsys)
            assert_one_line(rc, err, "read-only", str(ro))
            assert not list(ro.iterdir()), name


def test_full_disk_is_refused_before_the_work(env, tmp_path: Path, capsys) -> None:
    with tmpfs(tmp_path / "tiny", size="64k") as tiny:
        big = copy_in(tmp_path, [pydicom_file("693_J2KR.dcm")])  # 107 KB in, 512x512x2 bytes out
        argv = with_out(convert_argv(env, big, tmp_path, "ct2mr"), tiny / "out")
        assert_one_line(*run_cli(argv, capsys), r"needs about 0\.5 MiB", "tiny/out")
        with open(tiny / "fill", "wb", buffering=0) as fh:  # fill it up
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        argv = with_out(convert_argv(env, mr_input(tmp_path), tmp_path, "mr2ct"), tiny / "out")
        assert_one_line(*run_cli(argv, capsys), "no space left on device.*the disk is full", "tiny/out")
        assert sorted(p.name for p in tiny.iterdir()) == ["fill"]


def test_disk_full_during_the_work_is_one_line(tmp_path: Path, capsys) -> None:
    # 1 patient of 16x16: the estimate (pixels only) fits in 64 KiB, the 48 files with their headers do not
    with tmpfs(tmp_path / "tiny", size="64k") as tiny:
        rc, err = run_cli(["data", "phantom", "--out", str(tiny / "ph"), "--patients", "1", "--size", "16"], capsys)
        assert_one_line(rc, err, "no space left on device; the disk is full", "tiny")
        assert not list(tiny.iterdir())


def test_second_convert_to_the_same_out_is_refused_at_start(env, tmp_path: Path, capsys) -> None:
    holder = hold_claim(tmp_path / "out")  # another process is converting into tmp_path/out
    try:
        argv = convert_argv(env, mr_input(tmp_path), tmp_path, "mr2ct")
        assert_one_line(*run_cli(argv, capsys), "another sccg-edge process is writing", "out")
        assert not (tmp_path / "out").exists()
    finally:
        holder.terminate()
        holder.wait(10)
    rc, err = run_cli(argv, capsys)  # the claim died with its holder: the rerun goes through
    assert rc == 0, err
    nothing_left(tmp_path, "out.sccg-lock")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# ---------------------------------------------------------------------------------------------- 5. signals, starts


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143)])
def test_signal_mid_phantom(sig: int, code: int, tmp_path: Path) -> None:
    proc = cli("data", "phantom", "--out", str(tmp_path / "ph"), "--patients", "40", "--size", "256")
    rc, err = signal_mid_work(proc, lambda: any(p.name.startswith(".ph.") and any(p.rglob("*.dcm"))
                                                 for p in tmp_path.iterdir()), sig)
    name = signal.Signals(sig).name
    assert_one_line(rc, err, f"interrupted by {name}", "", code=code)
    assert list(tmp_path.iterdir()) == []


def test_sigint_mid_convert_leaves_nothing(env, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for i in range(300):  # 300 slices of one series at 512 px: seconds of work even pipelined
        edited(pydicom_file("CT_small.dcm"), folder / f"{i:03d}.dcm",
               lambda ds, i=i: (setattr(ds, "ImagePositionPatient", [0, 0, float(i)]),
                                setattr(ds, "InstanceNumber", i + 1)))
    before = snapshot(folder)
    proc = cli(*convert_argv(env, folder, tmp_path, "ct2mr", "--size", "512"))
    rc, err = signal_mid_work(proc, lambda: any(any(p.glob("*.dcm")) for p in tmp_path.glob(".out.*.partial")),
                              signal.SIGINT)
    assert_one_line(rc, err, "interrupted by SIGINT", "", code=130)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert snapshot(folder) == before


def test_sigterm_mid_bench_removes_its_temporary_folder(env, tmp_path: Path, tiny_data: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    model = str(env.model)  # both directions: the bench scores each
    proc = cli("bench", "--models", model, "--precisions", "fp32", "--backends", "torch", "--size", "32", "--data",
               str(tiny_data), "--iters", "100000", "--warmup", "1", "--no-paper-baseline", "--out",
               str(tmp_path / "b"), env={"TMPDIR": str(tmp)})
    rc, err = signal_mid_work(proc, lambda: any(tmp.glob("sccg-bench-*")), signal.SIGTERM, timeout=120)
    assert_one_line(rc, err, "interrupted by SIGTERM", "", code=143)
    assert list(tmp.iterdir()) == []
    nothing_left(tmp_path, "b")


@pytest.mark.parametrize("existing", [False, True])
def test_train_failing_at_start_leaves_nothing(existing: bool, tmp_path: Path, capsys) -> None:
    (tmp_path / "data").mkdir()  # no pairs in it: the run fails while loading its data
    run = tmp_path / "run"
    if existing:
        run.mkdir()
    argv = ["train", "--recipe", "cpu", "--data", str(tmp_path / "data"), "--out", str(run), "--epochs", "1"]
    rc, err = run_cli(argv, capsys)
    assert rc == 2 and err.startswith("error: "), err
    assert (list(run.iterdir()) == []) if existing else not run.exists()
    _, err2 = run_cli(argv, capsys)  # the same command is not refused for a half-made run folder
    assert "exists and is not empty" not in err2 and err2 == err


def test_ship_whose_evaluation_fails_leaves_no_destination(env, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    (run / "student").mkdir(parents=True)
    for d in ("mr2ct", "ct2mr"):
        shutil.copy(env.model / f"g_{d}.safetensors", run / "student")
    (tmp_path / "nodata").mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"recipe": "distill-cpu", "data": {"root": str(tmp_path /
                                                                                                    "nodata")}}))
    rc, err = run_cli(["ship", "--run", str(run), "--dest", str(tmp_path / "shipped")], capsys)
    assert rc == 2 and err.startswith("error: ") and "nodata" in err, err
    nothing_left(tmp_path, "shipped")
