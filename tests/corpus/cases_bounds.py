"""Corpus cases of issue 17's classes 1, 2 and 6: resource bombs, out-of-range options and metadata, messages.

Every input is generated here at test time: small files whose headers ask for gigabytes (DICOM, deflated DICOM,
PNG, TIFF, generator metadata), flags and recipes out of their declared ranges, damaged sidecars. Bomb cases run as
``isolated`` subprocesses so that their peak memory (RSS) is measured on their own.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from tests.corpus.cases import Case, Env, contiguous, convert_argv, copy_in, edited, pydicom_file

BOUND_CASES: dict[str, Callable[[Path, Env], Case]] = {}


def case(fn: Callable[[Path, Env], Case]) -> Callable[[Path, Env], Case]:
    BOUND_CASES[fn.__name__] = fn
    return fn


def _mr(w: Path, env: Env, edit, name: str = "MR_small.dcm", direction: str = "mr2ct", **kw) -> Case:
    path = edited(pydicom_file(name), w / "in" / name, edit)
    return Case(convert_argv(env, path, w, direction), name=name, **kw)


# ---------------------------------------------------------------------------------------------- DICOM bombs


def _set(**values):
    def edit(ds):
        for k, v in values.items():
            setattr(ds, k, v)
    return edit


@case
def dicom_rows_columns_48gib(w, env):  # a 9 KB file whose header asks for 8 GiB
    return _mr(w, env, _set(Rows=65535, Columns=65535), match="declares .* of pixel data", isolated=True)


@case
def dicom_fifty_million_frames(w, env):
    return _mr(w, env, _set(NumberOfFrames=50_000_000), match="declares .* of pixel data", isolated=True)


@case
def dicom_frames_times_size_48gib(w, env):
    return _mr(w, env, _set(Rows=4096, Columns=4096, NumberOfFrames=1536), match="declares 48.0 GiB",
               isolated=True)


@case
def dicom_encapsulated_fifty_million_frames(w, env):
    return _mr(w, env, _set(NumberOfFrames=50_000_000), name="693_J2KR.dcm", direction="ct2mr",
               match="can hold at most", isolated=True)


@case
def dicom_zero_rows(w, env):
    return _mr(w, env, _set(Rows=0), match="empty or negative image|no Rows")


def _deflated_bytes(ds: pydicom.Dataset) -> tuple[bytes, bytes]:
    """(file meta part, inflated dataset part) of ``ds`` written as a deflated file."""
    from io import BytesIO

    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    end = 144 + struct.unpack("<I", data[140:144])[0]  # after (0002,0000) FileMetaInformationGroupLength
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta = BytesIO()
    pydicom.dcmwrite(meta, pydicom.FileDataset("", pydicom.Dataset(), file_meta=ds.file_meta, preamble=b"\0" * 128),
                     enforce_file_format=True)
    head = meta.getvalue()
    return head[:144 + struct.unpack("<I", head[140:144])[0]], data[end:]  # the meta group alone


def _write_deflated(path: Path, meta: bytes, body: bytes, zeros: int = 0) -> Path:
    """``meta`` + raw deflate of ``body`` followed by ``zeros`` zero bytes (streamed: never held in memory)."""
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [meta, z.compress(body)]
    block = b"\0" * (1 << 20)
    for _ in range(zeros >> 20):
        parts.append(z.compress(block))
    parts.append(z.flush())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(parts))
    return path


@case
def deflated_bomb_inflates_past_header(w, env):  # a ~0.5 MB file whose stream inflates to 512 MiB
    meta, body = _deflated_bytes(pydicom.dcmread(pydicom_file("MR_small.dcm")))
    path = _write_deflated(w / "in" / "bomb.dcm", meta, body, zeros=512 << 20)
    return Case(convert_argv(env, path, w, "mr2ct"), match="inflates beyond", name="bomb.dcm", isolated=True)


@case
def deflated_header_over_memory_budget(w, env):  # consistent, but 512 MiB of pixels under a 256 MiB budget
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.Rows, ds.Columns = 16384, 16384
    meta, body = _deflated_bytes(ds)
    pos = body.index(b"\xe0\x7f\x10\x00OW") + 8
    body = body[:pos] + struct.pack("<I", 16384 * 16384 * 2) + body[pos + 4:]  # the pixel data's declared length
    path = _write_deflated(w / "in" / "big.dcm", meta, body, zeros=16384 * 16384 * 2 - 64 * 64 * 2)
    return Case(convert_argv(env, path, w, "mr2ct"), match="memory budget", name="big.dcm", isolated=True,
                env={"SCCG_MEMORY_BUDGET": "256MiB"})


@case
def deflated_valid_series_converts(w, env):  # issue 17 class 6: a valid deflated series was "corrupt"
    def edit(ds):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = edited(pydicom_file("MR_small.dcm"), w / "in" / "mr.dcm", edit)
    assert b"1.2.840.10008.1.2.1.99" in path.read_bytes()[:400]
    return Case(convert_argv(env, path.parent, w, "mr2ct"), ok=True)


@case
def deflated_truncated(w, env):
    def edit(ds):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = edited(pydicom_file("MR_small.dcm"), w / "in" / "mr.dcm", edit)
    path.write_bytes(path.read_bytes()[:-3000])
    return Case(convert_argv(env, path, w, "mr2ct"), match="truncated", name="mr.dcm")


# ---------------------------------------------------------------------------------------------- image bombs


def _png_bomb(path: Path, side: int = 15000) -> Path:
    """A valid 8-bit greyscale PNG of side x side black pixels, ~220 KB (rows streamed into the compressor)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _tiff_header(path: Path, side: int = 60_000) -> Path:
    """A little-endian TIFF header declaring side x side 8-bit pixels, with almost no data, named ``path``."""
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 8 + 4), (277, 3, 1, 1), (278, 4, 1, side), (279, 4, 1, side * side)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + b"\0" * 64)
    return path


@case
def png_bomb_convert(w, env):
    _png_bomb(w / "in" / "slice.png")
    return Case(convert_argv(env, w / "in", w, "mr2ct"), match="too large|memory budget", name="slice.png",
                isolated=True)


@case
def png_bomb_metrics(w, env):
    _png_bomb(w / "in" / "pred" / "1.png")
    _png_bomb(w / "in" / "gt" / "1.png", side=64)
    return Case(["metrics", str(w / "in" / "pred"), str(w / "in" / "gt")], match="too large|memory budget",
                name="1.png", isolated=True)


@case
def png_bomb_pair_reader(w, env):
    _png_bomb(w / "in" / "ct" / "16003.png")
    _png_bomb(w / "in" / "mr" / "16003.png")
    return Case(["evaluate", "--model", str(env.model), "--data", str(w / "in"), "--patients", "16"],
                match="too large|memory budget", name="16003.png", isolated=True)


@case
def tiff_header_bomb_named_png(w, env):
    _tiff_header(w / "in" / "huge.png")
    return Case(convert_argv(env, w / "in", w, "mr2ct"), match="too large|memory budget", name="huge.png",
                isolated=True)


# ---------------------------------------------------------------------------------------------- model metadata


def _generator_file(w: Path, env: Env, change: Callable[[dict[str, str]], None], weights: bool = True) -> Path:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    src = env.model / "g_mr2ct.safetensors"
    with safe_open(str(src), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()} if weights else {}  # noqa: SIM118 (safe_open has no __iter__)
    change(meta)
    path = w / "m" / "g_mr2ct.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors or {"w": torch.zeros(1)}, str(path), metadata=meta)
    return path


def _gcfg(**values):
    def change(meta):
        cfg = json.loads(meta["generator_config"])
        cfg.update(values)
        meta["generator_config"] = json.dumps(cfg)
    return change


def _model_argv(w: Path, env: Env, model: Path) -> list[str]:
    argv = convert_argv(env, copy_in(w, [pydicom_file("MR_small.dcm")]) / "MR_small.dcm", w, "mr2ct")
    argv[argv.index("--model") + 1] = str(model)
    return argv


@case
def metadata_ngf_200000(w, env):
    model = _generator_file(w, env, _gcfg(ngf=200_000))
    return Case(_model_argv(w, env, model), match="'ngf' must be", name="g_mr2ct.safetensors")


@case
def metadata_size_100000(w, env):
    model = _generator_file(w, env, lambda m: m.update(size="100000"))
    return Case(_model_argv(w, env, model), match="'size' must be", name="g_mr2ct.safetensors")


@case
def metadata_bad_json(w, env):
    model = _generator_file(w, env, lambda m: m.update(generator_config="{ngf: 8"))
    return Case(_model_argv(w, env, model), match="not valid JSON", name="g_mr2ct.safetensors")


@case
def metadata_size_not_a_number(w, env):
    model = _generator_file(w, env, lambda m: m.update(size="big"))
    return Case(_model_argv(w, env, model), match="not an integer", name="g_mr2ct.safetensors")


@case
def metadata_big_network_tiny_file(w, env):  # in range field by field, but 1e8+ parameters in a few KB
    model = _generator_file(w, env, _gcfg(ngf=128, n_blocks=16, block="plain"), weights=False)
    return Case(_model_argv(w, env, model), match="file holds only", name="g_mr2ct.safetensors")


@case
def run_sidecar_config_ngf_200000(w, env):
    from safetensors.torch import load_file, save_file

    weights = w / "run" / "checkpoints" / "best" / "weights" / "g_mr2ct.safetensors"
    weights.parent.mkdir(parents=True)
    save_file(load_file(str(env.model / "g_mr2ct.safetensors")), str(weights))  # no metadata: the run config rules
    (weights.parent.parent / "config.yaml").write_text("model:\n  generator: student-xs\n  ngf: 200000\n")
    return Case(_model_argv(w, env, w / "run"), match="'model.ngf' must be", name="config.yaml")


@case
def artifact_card_bad_json(w, env):
    folder = w / "art"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not really onnx")
    (folder / "card.json").write_text('{"size": 256, "direction": ')
    return Case(_model_argv(w, env, folder / "model.onnx"), match="sidecar", name="card.json")


@case
def artifact_config_size_out_of_range(w, env):
    folder = w / "art"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not really onnx")
    (folder / "config.yaml").write_text("size: 100000\ndirection: mr2ct\n")
    return Case(_model_argv(w, env, folder / "model.onnx"), match="'size' must be", name="config.yaml")


# ---------------------------------------------------------------------------------------------- options out of range


def _train(*flags: str, match: str) -> Case:
    return Case(["train", "--dry-run", *flags], match=match)


@case
def train_size_negative(w, env):
    return _train("--size", "-256", match="'data.size' must be a multiple of 4")


@case
def train_size_zero(w, env):
    return _train("--size", "0", match="'data.size' must be")


@case
def train_size_seven(w, env):
    return _train("--size", "7", match="'data.size' must be a multiple of 4")


@case
def train_batch_size_zero(w, env):
    return _train("--batch-size", "0", match="'optim.batch_size' must be")


@case
def train_batch_size_negative(w, env):
    return _train("--batch-size", "-4", match="'optim.batch_size' must be")


@case
def train_lr_nan(w, env):
    return _train("--lr", "nan", match="'optim.lr' must be")


@case
def train_lr_inf(w, env):
    return _train("--lr", "inf", match="'optim.lr' must be")


@case
def train_epochs_negative(w, env):
    return _train("--epochs", "-1", match="'optim.epochs' must be")


@case
def train_max_steps_negative(w, env):
    return _train("--max-steps", "-5", match="'max_steps' must be")


@case
def train_set_unknown_ct_window(w, env):
    return _train("--set", "data.ct_window=nope", match="'data.ct_window' must be one of")


@case
def train_set_threads_negative(w, env):
    return _train("--set", "threads=-1", match="'threads' must be")


@case
def train_set_crop_larger_than_size(w, env):
    return _train("--set", "data.crop=1000", match="'data.crop' 1000 is larger")


@case
def train_set_ngf_huge(w, env):
    return _train("--set", "model.ngf=200000", match="'model.ngf' must be")


@case
def recipe_value_out_of_range(w, env):
    path = w / "in" / "bad.yaml"
    path.parent.mkdir()
    path.write_text("optim:\n  lr: -0.1\n  beta1: 1.5\n")
    return Case(["train", "--recipe", str(path), "--dry-run"], match="'optim.lr' must be", name="bad.yaml")


@case
def convert_size_100000(w, env):
    inp = copy_in(w, [pydicom_file("MR_small.dcm")])
    return Case(convert_argv(env, inp, w, "mr2ct", "--size", "100000"), match="'size' must be")


@case
def convert_threads_negative(w, env):
    inp = copy_in(w, [pydicom_file("MR_small.dcm")])
    argv = convert_argv(env, inp, w, "mr2ct")
    argv[argv.index("--threads") + 1] = "-5"
    return Case(argv, match="'threads' must be")


@case
def memory_budget_env_not_a_size(w, env):
    inp = copy_in(w, [pydicom_file("MR_small.dcm")])
    return Case(convert_argv(env, inp, w, "mr2ct"), match="SCCG_MEMORY_BUDGET", env={"SCCG_MEMORY_BUDGET": "lots"})


# ---------------------------------------------------------------------------------------------- messages (class 6)


def _raw_dataset(src: Path) -> tuple[bytes, bytes]:
    """(file without preamble and 'DICM', bare dataset without file meta) of a real file."""
    data = src.read_bytes()
    end = 144 + struct.unpack("<I", data[140:144])[0]
    return data[132:], data[end:]


@case
def no_preamble_converts(w, env):
    path = w / "in" / "mr.dcm"
    path.parent.mkdir()
    path.write_bytes(_raw_dataset(pydicom_file("MR_small.dcm"))[0])
    return Case(convert_argv(env, path, w, "mr2ct"), ok=True)


@case
def no_file_meta_converts(w, env):  # a bare dataset (older exports): read as the encoding pydicom finds
    path = w / "in" / "mr.dcm"
    path.parent.mkdir()
    path.write_bytes(_raw_dataset(pydicom_file("MR_small.dcm"))[1])
    return Case(convert_argv(env, path, w, "mr2ct"), ok=True)


@case
def orientation_all_zeros(w, env):
    files = contiguous(env, "porcine_t2_dir", 3)
    folder = w / "in"
    for f in files:
        edited(f, folder / f.name, lambda ds: setattr(ds, "ImageOrientationPatient", [0, 0, 0, 0, 0, 0]))
    return Case(convert_argv(env, folder, w, "mr2ct"), match="not two perpendicular unit vectors", name=files[0].name)


@case
def patient_folder_with_ct_and_mr(w, env):
    copy_in(w / "in" / "p1" / "ct", [pydicom_file("CT_small.dcm")])
    copy_in(w / "in" / "p1" / "mr", [pydicom_file("MR_small.dcm")])
    return Case(convert_argv(env, w / "in" / "p1", w, "mr2ct"), match="holds only sub-folders \\(ct, mr\\)",
                name="p1")


@case
def pickle_with_upper_case_suffix(w, env):
    from tests.corpus.cases import write_pickle

    marker = w / "pwned.txt"
    model = write_pickle(w / "m" / "evil.PT", marker)
    return Case(_model_argv(w, env, model), match="pickle", name="evil.PT", marker=marker)
