"""Bad-input corpus through the real CLI: one clean ``error: ...`` line, non-zero exit, inputs untouched.

Unusual but valid inputs (odd sizes, one slice, 8/12/32-bit pixels, compressed with a decoder) must succeed.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from sccg_edge.cli import main
from tests.conftest import snapshot
from tests.corpus.cases import (
    Case,
    Env,
    contiguous,
    convert_argv,
    copy_in,
    edited,
    flip_bytes,
    pydicom_file,
    set_pixels,
    without_decoders,
    write_pickle,
)
from tests.corpus.cases_bounds import BOUND_CASES

pydicom = pytest.importorskip("pydicom")
CASES: dict[str, Callable[[Path, Env], Case]] = {}
PEAK_RSS_LIMIT = 1 << 30  # every corpus case stays under 1 GiB of memory


def case(fn: Callable[[Path, Env], Case]) -> Callable[[Path, Env], Case]:
    CASES[fn.__name__] = fn
    return fn


def _one(w: Path, env: Env, name: str, direction: str, edit=None, *extra: str, **kw) -> Case:
    src = pydicom_file(name)
    path = edited(src, w / "in" / name, edit) if edit else copy_in(w, [src]) / name
    return Case(convert_argv(env, path, w, direction, *extra), name=name, **kw)


def _bytes(w: Path, name: str, data: bytes) -> Path:
    path = w / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------- broken files


@case
def truncated_half(w, env):
    data = pydicom_file("CT_small.dcm").read_bytes()
    return Case(convert_argv(env, _bytes(w, "ct.dcm", data[: len(data) // 2]), w, "ct2mr"), match="truncated",
                name="ct.dcm")


@case
def truncated_in_header(w, env):
    data = pydicom_file("MR_small.dcm").read_bytes()
    return Case(convert_argv(env, _bytes(w, "mr.dcm", data[:300]), w, "mr2ct"), match="truncated|corrupt|not a DICOM",
                name="mr.dcm")


@case
def truncated_slice_in_real_series(w, env):
    folder = copy_in(w, contiguous(env, "head_ct_dir", 3))
    victim = sorted(folder.iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:-1000])
    return Case(convert_argv(env, folder, w, "ct2mr"), match="truncated", name=victim.name)


@case
def truncated_pixel_data_pydicom(w, env):
    return _one(w, env, "MR_truncated.dcm", "mr2ct", match="truncated")


@case
def flipped_dicm_marker(w, env):
    data = pydicom_file("CT_small.dcm").read_bytes()
    return Case(convert_argv(env, _bytes(w, "ct.dcm", flip_bytes(data, [128, 129, 130, 131])), w, "ct2mr"),
                match="not a DICOM", name="ct.dcm")


@case
def flipped_meta_length(w, env):
    data = pydicom_file("CT_small.dcm").read_bytes()
    return Case(convert_argv(env, _bytes(w, "ct.dcm", flip_bytes(data, [140, 141, 142])), w, "ct2mr"),
                ok=True)  # the meta group length is advisory: pydicom reads the file correctly anyway


@case
def flipped_rows_value(w, env):
    data = pydicom_file("MR_small.dcm").read_bytes()
    off = data.index(b"\x28\x00\x10\x00US\x02\x00") + 8  # the value of Rows (0028,0010)
    return Case(convert_argv(env, _bytes(w, "mr.dcm", flip_bytes(data, [off])), w, "mr2ct"),
                match="truncated|corrupt", name="mr.dcm")


@case
def zeros_file(w, env):
    return Case(convert_argv(env, _bytes(w, "zero.dcm", b"\0" * 4096), w, "mr2ct"), match="not a DICOM",
                name="zero.dcm")


@case
def random_bytes_file(w, env):
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    return Case(convert_argv(env, _bytes(w, "noise.dcm", data), w, "mr2ct"), match="DICOM", name="noise.dcm")


@case
def bad_file_in_good_folder(w, env):
    folder = copy_in(w, contiguous(env, "porcine_t2_dir", 3))
    (folder / "broken.dcm").write_bytes(b"\0" * 60)
    return Case(convert_argv(env, folder, w, "mr2ct"), match="not a DICOM", name="broken.dcm")


@case
def missing_pixel_data(w, env):
    return _one(w, env, "CT_small.dcm", "ct2mr", lambda ds: delattr(ds, "PixelData"), match="no pixel data")


@case
def pixel_data_too_short(w, env):
    def edit(ds):
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    return _one(w, env, "CT_small.dcm", "ct2mr", edit, match="truncated|shorter|corrupt")


@case
def rtstruct(w, env):
    return _one(w, env, "rtstruct.dcm", "mr2ct", match="non-image")


@case
def rtplan(w, env):
    return _one(w, env, "rtplan.dcm", "mr2ct", match="non-image|not a DICOM")


@case
def structured_report(w, env):
    return _one(w, env, "test-SR.dcm", "ct2mr", match="non-image")


@case
def folder_of_non_image_objects(w, env):
    folder = copy_in(w, [pydicom_file("rtstruct.dcm"), pydicom_file("test-SR.dcm")])
    return Case(convert_argv(env, folder, w, "mr2ct"), match="no DICOM image series", name="in")


@case
def segmentation_object(w, env):
    return _one(w, env, "liver.dcm", "mr2ct", match="Modality 'SEG'")


@case
def colour_secondary_capture_as_mr(w, env):
    return _one(w, env, "SC_rgb.dcm", "mr2ct", lambda ds: setattr(ds, "Modality", "MR"), match="colour")


@case
def ultrasound(w, env):
    return _one(w, env, "US1_UNCR.dcm", "ct2mr", match="Modality 'US'")


@case
def nuclear_medicine(w, env):
    return _one(w, env, "JPEG2000.dcm", "mr2ct", match="Modality 'NM'")


@case
def rt_dose_32bit(w, env):
    return _one(w, env, "rtdose.dcm", "ct2mr", match="Modality 'RTDOSE'")


# ---------------------------------------------------------------------------------------------- folders


@case
def empty_folder(w, env):
    (w / "in").mkdir()
    return Case(convert_argv(env, w / "in", w, "mr2ct"), match="empty folder", name="in")


@case
def folder_of_text_files(w, env):
    folder = w / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    (folder / "LICENSE").write_text("MIT")
    return Case(convert_argv(env, folder, w, "mr2ct"), match="no DICOM image series", name="in")


@case
def license_only(w, env):
    folder = copy_in(w, [p for p in env.fixture("porcine_t2_dir").iterdir() if p.suffix == ".txt"])
    return Case(convert_argv(env, folder, w, "mr2ct"), match="no DICOM image series", name="in")


@case
def missing_input(w, env):
    return Case(convert_argv(env, w / "nowhere", w, "mr2ct"), match="does not exist", name="nowhere")


@case
def missing_slice(w, env):
    files = contiguous(env, "head_ct_dir", 5)
    folder = copy_in(w, files[:2] + files[3:])
    return Case(convert_argv(env, folder, w, "ct2mr"), match="spacing is inconsistent", name=files[3].name)


@case
def duplicate_slice(w, env):
    files = contiguous(env, "porcine_t2_dir", 3)
    folder = copy_in(w, files)
    (folder / "copy.dcm").write_bytes(files[1].read_bytes())
    return Case(convert_argv(env, folder, w, "mr2ct"), match="share one position", name="in")


@case
def mixed_orientation(w, env):
    files = contiguous(env, "porcine_t2_dir", 3)
    folder = copy_in(w, files[:2])
    edited(files[2], folder / files[2].name, lambda ds: setattr(ds, "ImageOrientationPatient", [0, 1, 0, 0, 0, -1]))
    return Case(convert_argv(env, folder, w, "mr2ct"), match="ImageOrientationPatient differs", name=files[2].name)


@case
def mixed_matrix_size(w, env):
    files = contiguous(env, "porcine_t2_dir", 3)
    folder = copy_in(w, files[:2])
    edited(files[2], folder / files[2].name, lambda ds: setattr(ds, "Columns", 256))
    return Case(convert_argv(env, folder, w, "mr2ct"), match="Rows/Columns differs", name=files[2].name)


@case
def two_series_unknown_uid(w, env):
    folder = copy_in(w, contiguous(env, "head_ct_dir", 2) + contiguous(env, "porcine_t2_dir", 2))
    return Case(convert_argv(env, folder, w, "mr2ct", "--series", "1.2.3.4"), match="no series 1.2.3.4", name="in")


@case
def two_series_none_fits(w, env):
    folder = copy_in(w, [pydicom_file("CT_small.dcm")] + contiguous(env, "head_ct_dir", 2))
    return Case(convert_argv(env, folder, w, "mr2ct"), match="none is MR", name="in")


@case
def two_series_mixed_converts_matching(w, env):
    folder = copy_in(w, contiguous(env, "head_ct_dir", 2) + contiguous(env, "porcine_t2_dir", 2))
    return Case(convert_argv(env, folder, w, "mr2ct"), ok=True)


# ---------------------------------------------------------------------------------------------- wrong modality / values


@case
def ct_for_mr2ct(w, env):
    return _one(w, env, "CT_small.dcm", "mr2ct", match="use --direction ct2mr")


@case
def mr_for_ct2mr(w, env):
    return _one(w, env, "MR_small.dcm", "ct2mr", match="use --direction mr2ct")


@case
def real_ct_series_for_mr2ct(w, env):
    folder = copy_in(w, contiguous(env, "head_ct_dir", 2))
    return Case(convert_argv(env, folder, w, "mr2ct"), match="use --direction ct2mr", name="in")


@case
def real_mr_series_for_ct2mr(w, env):
    folder = copy_in(w, contiguous(env, "porcine_t2_dir", 2))
    return Case(convert_argv(env, folder, w, "ct2mr"), match="use --direction mr2ct", name="in")


def _float_pixels(value: float):
    def edit(ds):
        arr = ds.pixel_array.astype(np.float32)
        arr[5, 7] = value
        set_pixels(ds, arr)
    return edit


@case
def nan_float_pixels(w, env):
    return _one(w, env, "MR_small.dcm", "mr2ct", _float_pixels(np.nan), match="NaN")


@case
def inf_float_pixels(w, env):
    return _one(w, env, "CT_small.dcm", "ct2mr", _float_pixels(np.inf), match="NaN or infinite")


@case
def nan_double_pixels(w, env):
    def edit(ds):
        arr = ds.pixel_array.astype(np.float64)
        arr[0, 0] = -np.inf
        set_pixels(ds, arr)
    return _one(w, env, "MR_small.dcm", "mr2ct", edit, match="NaN or infinite")


# ---------------------------------------------------------------------------------------------- decoders


@case
def jpeg2000_without_decoder(w, env):
    return _one(w, env, "693_J2KR.dcm", "ct2mr", match="pylibjpeg-openjpeg",
                guard=lambda: without_decoders(pydicom.uid.JPEG2000Lossless))


@case
def jpeg_lossy_undecodable(w, env):
    return _one(w, env, "JPEG-lossy.dcm", "mr2ct", lambda ds: setattr(ds, "Modality", "MR"), match="cannot be decoded")


@case
def jpeg_lossy_without_decoder(w, env):
    return _one(w, env, "JPGExtended.dcm", "mr2ct", lambda ds: setattr(ds, "Modality", "MR"),
                match="pylibjpeg-libjpeg", guard=lambda: without_decoders(pydicom.uid.JPEGExtended12Bit))


@case
def rle_without_decoder(w, env):
    return _one(w, env, "MR_small_RLE.dcm", "mr2ct", match="pylibjpeg-rle",
                guard=lambda: without_decoders(pydicom.uid.RLELossless))


@case
def jpeg2000_with_decoder(w, env):
    return _one(w, env, "693_J2KR.dcm", "ct2mr", ok=True)


@case
def jpeg_lossy_with_decoder(w, env):
    return _one(w, env, "JPGExtended.dcm", "mr2ct", lambda ds: setattr(ds, "Modality", "MR"), ok=True)


@case
def jpeg_ls_with_decoder(w, env):
    return _one(w, env, "MR_small_jpeg_ls_lossless.dcm", "mr2ct", ok=True)


@case
def rle_with_decoder(w, env):
    return _one(w, env, "MR_small_RLE.dcm", "mr2ct", ok=True)


@case
def big_endian(w, env):
    return _one(w, env, "MR_small_bigendian.dcm", "mr2ct", ok=True)


# ---------------------------------------------------------------------------------------------- unusual but valid


@case
def single_real_slice(w, env):
    return Case(convert_argv(env, copy_in(w, [env.fixture("dicom_singles") / "mri.dcm"]) / "mri.dcm", w, "mr2ct"),
                ok=True)


@case
def multiframe_mr(w, env):
    return _one(w, env, "emri_small.dcm", "mr2ct", ok=True)


@case
def odd_non_square(w, env):
    return _one(w, env, "CT_small.dcm", "ct2mr", lambda ds: set_pixels(ds, ds.pixel_array[:93, :127].copy()),
                ok=True)


@case
def tiny_7x5(w, env):
    return _one(w, env, "MR_small.dcm", "mr2ct", lambda ds: set_pixels(ds, ds.pixel_array[:7, :5].copy()), ok=True)


@case
def eight_bit_mr(w, env):
    return _one(w, env, "MR_small.dcm", "mr2ct",
                lambda ds: set_pixels(ds, (ds.pixel_array.astype(np.float64) / ds.pixel_array.max() * 255)
                                      .astype(np.uint8)), ok=True)


@case
def twelve_bit_stored_ct(w, env):
    def edit(ds):
        set_pixels(ds, np.clip(ds.pixel_array.astype(np.int32) + 1024, 0, 4095).astype(np.uint16), bits_stored=12)
        ds.RescaleIntercept, ds.RescaleSlope = -2048, 1
    return _one(w, env, "CT_small.dcm", "ct2mr", edit, ok=True)


@case
def thirty_two_bit_mr(w, env):
    return _one(w, env, "MR_small.dcm", "mr2ct",
                lambda ds: set_pixels(ds, ds.pixel_array.astype(np.uint32) * 70000), ok=True)


@case
def constant_mr(w, env):
    return _one(w, env, "MR_small.dcm", "mr2ct", lambda ds: set_pixels(ds, np.full((64, 64), 7, np.uint16)), ok=True)


# ---------------------------------------------------------------------------------------------- models and flags


def _model_case(w: Path, env: Env, model: Path, match: str, name: str, **kw) -> Case:
    argv = convert_argv(env, copy_in(w, [pydicom_file("MR_small.dcm")]) / "MR_small.dcm", w, "mr2ct")
    argv[argv.index("--model") + 1] = str(model)
    return Case(argv, match=match, name=name, **kw)


@case
def pickled_checkpoint(w, env):
    marker = w / "pwned.txt"
    return _model_case(w, env, write_pickle(w / "m" / "g_mr2ct.pt", marker), "pickle", "g_mr2ct.pt", marker=marker)


@case
def pickle_named_safetensors(w, env):
    marker = w / "pwned.txt"
    model = write_pickle(w / "m" / "g_mr2ct.safetensors", marker)
    return _model_case(w, env, model, "safetensors", "g_mr2ct.safetensors", marker=marker)


@case
def pickle_in_model_folder(w, env):
    marker = w / "pwned.txt"
    write_pickle(w / "m" / "g_mr2ct.pth", marker)
    return _model_case(w, env, w / "m", "no g_mr2ct.safetensors", "m", marker=marker)


@case
def truncated_weights(w, env):
    data = (env.model / "g_mr2ct.safetensors").read_bytes()
    return _model_case(w, env, _bytes(w, "g_mr2ct.safetensors", data[: len(data) // 2]), "safetensors|truncat",
                       "g_mr2ct.safetensors")


@case
def wrong_direction_weights(w, env):
    model = w / "m" / "g.safetensors"
    model.parent.mkdir(parents=True)
    model.write_bytes((env.model / "g_ct2mr.safetensors").read_bytes())
    return _model_case(w, env, model, "holds the ct2mr generator", "g.safetensors")


@case
def safetensors_without_config(w, env):
    import torch
    from safetensors.torch import save_file

    model = w / "m" / "g.safetensors"
    model.parent.mkdir(parents=True)
    save_file({"w": torch.zeros(3)}, str(model))
    return _model_case(w, env, model, "no generator config", "g.safetensors")


@case
def unknown_model_name(w, env):
    return _model_case(w, env, Path("no-such-model"), "no such model", "no-such-model")


@case
def empty_model_folder(w, env):
    (w / "m").mkdir()
    return _model_case(w, env, w / "m", "no g_mr2ct.safetensors", "m")


@case
def output_exists(w, env):
    inp = copy_in(w, [pydicom_file("MR_small.dcm")])
    (w / "out").mkdir()
    (w / "out" / "keep.txt").write_text("mine")
    return Case(convert_argv(env, inp, w, "mr2ct"), match="already exists", name="out", watch=[w / "out"])


@case
def output_inside_input(w, env):
    inp = copy_in(w, [pydicom_file("MR_small.dcm")])
    argv = convert_argv(env, inp, w, "mr2ct")
    argv[argv.index("--out") + 1] = str(inp / "sub")
    return Case(argv, match="inside the input folder", name="sub")


@case
def size_not_multiple_of_4(w, env):
    return Case(convert_argv(env, copy_in(w, [pydicom_file("MR_small.dcm")]), w, "mr2ct", "--size", "30"),
                match="multiple of 4", name="")


@case
def unknown_direction(w, env):
    return Case(convert_argv(env, copy_in(w, [pydicom_file("MR_small.dcm")]), w, "sideways"), match="mr2ct", name="")


@case
def series_flag_on_png_folder(w, env):
    from PIL import Image

    folder = w / "in"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "a.png")
    return Case(convert_argv(env, folder, w, "mr2ct", "--series", "1.2"), match="--series applies to DICOM")


@case
def corrupt_png(w, env):
    folder = w / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return Case(convert_argv(env, folder, w, "mr2ct"), match="cannot decode", name="a.png")


def _recipe(w: Path, text: str, match: str) -> Case:
    path = _bytes(w, "bad.yaml", text.encode())
    return Case(["train", "--recipe", str(path), "--dry-run"], match=match, name="bad.yaml")


@case
def recipe_unknown_key(w, env):
    return _recipe(w, "data:\n  sizee: 256\n", "sizee")


@case
def recipe_wrong_type(w, env):
    return _recipe(w, "data:\n  size: large\n", "size")


@case
def recipe_not_yaml(w, env):
    return _recipe(w, "data: [unclosed\n", "YAML|yaml|parse")


@case
def recipe_not_a_mapping(w, env):
    return _recipe(w, "- 1\n- 2\n", "mapping|dict|top")


# ---------------------------------------------------------------------------------------------- the test


@pytest.fixture
def env(tiny_model: Path, request: pytest.FixtureRequest) -> Env:
    return Env(model=tiny_model, fixture=request.getfixturevalue)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 100


def _run(c: Case, capsys: pytest.CaptureFixture) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in bytes the case added): in-process, or a measured subprocess."""
    if c.isolated:  # os.wait4 gives this one child's own peak RSS (ru_maxrss, KiB on Linux)
        with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
            proc = subprocess.Popen([sys.executable, "-m", "sccg_edge", *c.argv], stdout=fo, stderr=fe,
                                    env={**os.environ, **c.env})
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            fo.seek(0)
            fe.seek(0)
            return proc.returncode, fo.read(), fe.read(), usage.ru_maxrss * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with c.guard(), _environ(c.env):
        rc = main(c.argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024


CASES.update(BOUND_CASES)

#: Cases that show a bug outside this corpus' files, reported to the owner (strict: they fail once fixed).
KNOWN_ISSUES: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_ISSUES[n], strict=True)) if n in KNOWN_ISSUES else n
    for n in sorted(CASES)
])
def test_corpus(name: str, env: Env, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    c = CASES[name](tmp_path, env)
    watched = [tmp_path / "in", *c.watch]
    before = {str(p): snapshot(p) for p in watched if p.exists()}
    rc, out, err, rss = _run(c, capsys)
    text = out + err
    assert "Traceback" not in text, text
    assert rss < PEAK_RSS_LIMIT, f"peak memory {rss / 2**20:.0f} MiB" 
    assert {str(p): snapshot(p) for p in watched if p.exists()} == before, "an input was modified"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    if c.marker is not None:
        assert not c.marker.exists(), "a pickle was executed"
    if c.ok:
        assert rc == 0, err
        assert list((tmp_path / "out").rglob("*.dcm")), "no output written"
        return
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert c.name in lines[0], lines[0]
    assert re.search(c.match, lines[0]), lines[0]
    if c.argv[0] == "convert" and not c.watch:
        assert not (tmp_path / "out").exists()
