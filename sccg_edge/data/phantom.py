"""A deterministic paired digital brain phantom: label volume, CT in HU and T2-weighted MR.

The phantom is the embedded default data set, so every command works without real data. It is SYNTHETIC: an
axial stack from the skull base (slice 0, sinuses and orbits) through the ventricles to the vertex, with scalp,
subcutaneous fat, skull (cortical bone with a diploe), subarachnoid CSF, folded cortex, white matter, deep grey
matter and lateral ventricles. Head size, aspect, rotation, tissue thicknesses, ventricle size and cortical folding
vary with the seed. Both images are rendered from the same labels at twice the resolution and averaged down
(partial volume), then CT gets Gaussian noise and a couch, MR a smooth bias field and Rician noise.

The generator is pure numpy; :func:`write_phantom_dataset` at the end writes a DICOM data set of such patients.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.config.bounds import SIZE_MAX, Bounds, check_value
from sccg_edge.data.dicom_write import SeriesIds, SliceGeometry, new_uid, write_slice
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.utils.fs import check_writable

AIR, SKIN, FAT, CORTICAL_BONE, DIPLOE, CSF, GREY_MATTER, WHITE_MATTER, VENTRICLE, SINUS, EYE = range(11)
LABEL_NAMES: dict[int, str] = {AIR: "air", SKIN: "scalp/soft tissue", FAT: "fat", CORTICAL_BONE: "cortical bone",
                               DIPLOE: "diploe", CSF: "csf", GREY_MATTER: "grey matter", WHITE_MATTER: "white matter",
                               VENTRICLE: "ventricle", SINUS: "sinus air", EYE: "eye"}
# Mean T2-weighted MR signal (arbitrary units) per label; CT values per label are drawn per patient.
_MR_T2 = np.array([0, 330, 620, 15, 280, 1000, 560, 400, 1000, 10, 920], dtype=np.float32)
FOV_MM = 240.0  # in-plane field of view; normalised coordinates run from -1 to 1 across it
STACK_MM = 120.0  # skull base to vertex, whatever the number of slices
COUCH_HU = 250.0


@dataclass(frozen=True)
class PhantomPatient:
    """One synthetic patient: co-registered volumes of shape (Z, H, W), slice 0 at the skull base.

    Attributes:
        seed: the seed it was generated from.
        labels: uint8 tissue labels (see ``LABEL_NAMES``).
        ct: float32 CT in Hounsfield units (with couch and noise), within [-1024, 3071].
        mr: float32 T2-weighted MR in arbitrary units (0 to about 1100).
        pixel_spacing_mm: in-plane pixel size.
        slice_thickness_mm: slice spacing and thickness.
    """

    seed: int
    labels: np.ndarray
    ct: np.ndarray
    mr: np.ndarray
    pixel_spacing_mm: float
    slice_thickness_mm: float


class _Waves:
    """A smooth random field: a sum of separable cosine products, evaluated per slice with one matrix product."""

    def __init__(self, rng: np.random.Generator, modes: int, fmin: float, fmax: float) -> None:
        self.fx, self.fy = rng.uniform(fmin, fmax, (2, modes)) * 2 * np.pi
        self.fz = rng.uniform(fmin, fmax, modes) * 2 * np.pi
        self.px, self.py = rng.uniform(0, 2 * np.pi, (2, modes))
        self.amp = rng.uniform(0.5, 1.0, modes) / np.sqrt(modes / 4.0)

    def at(self, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Field of about unit standard deviation on the grid (y rows, x columns) at height z."""
        cx = np.cos(np.outer(x, self.fx) + self.px + self.fz * z)
        cy = np.cos(np.outer(y, self.fy) + self.py) * self.amp
        return (cy @ cx.T).astype(np.float32)


@dataclass(frozen=True)
class _Shape:
    a: float  # head semi-axis left-right, normalised units (1 = FOV/2)
    b: float  # head semi-axis anterior-posterior
    angle: float
    cx: float
    cy: float
    scalp: float
    skull: float
    csf: float
    cortex: float
    folding: float
    ventricles: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Shape:
        a = rng.uniform(0.58, 0.67)
        return cls(a=a, b=a * rng.uniform(1.12, 1.24), angle=rng.uniform(-0.14, 0.14), cx=rng.uniform(-0.03, 0.03),
                   cy=rng.uniform(-0.06, 0.0), scalp=rng.uniform(0.04, 0.055), skull=rng.uniform(0.05, 0.07),
                   csf=rng.uniform(0.012, 0.025), cortex=rng.uniform(0.025, 0.035), folding=rng.uniform(0.6, 1.2),
                   ventricles=rng.uniform(0.7, 1.4))


def _bump(t: float, centre: float, half_width: float) -> float:
    """Cross-section profile of a structure spanning centre +- half_width along z (0 outside)."""
    return float(np.sqrt(max(0.0, 1.0 - ((t - centre) / half_width) ** 2)))


def _ellipse(x: np.ndarray, y: np.ndarray, x0: float, y0: float, rx: float, ry: float) -> np.ndarray:
    return ((x - x0) / max(rx, 1e-6)) ** 2 + ((y - y0) / max(ry, 1e-6)) ** 2 < 1.0


def _slice_labels(shape: _Shape, t: float, x: np.ndarray, y: np.ndarray, fold: np.ndarray,
                  sulci: np.ndarray) -> np.ndarray:
    """Labels of one axial slice at height t (0 = skull base, 1 = vertex) on the grid (x, y)."""
    c, s_ = np.cos(shape.angle), np.sin(shape.angle)
    xr = c * (x - shape.cx) + s_ * (y - shape.cy)
    yr = -s_ * (x - shape.cx) + c * (y - shape.cy)  # negative yr is anterior (top of the image)
    size = _bump(t, 0.36, 0.84)
    depth = (size - np.sqrt((xr / shape.a) ** 2 + (yr / shape.b) ** 2)) * np.sqrt(shape.a * shape.b)
    oblique = 1.0 + 1.5 * max(0.0, t - 0.75)  # tangential cuts near the vertex look thicker
    scalp, inner = shape.scalp * oblique, (shape.scalp + shape.skull) * oblique
    brain = inner + shape.csf * oblique
    labels = np.zeros(x.shape, dtype=np.uint8)
    labels[depth > 0] = SKIN
    labels[depth > 0.45 * scalp] = FAT
    labels[depth > scalp] = CORTICAL_BONE
    labels[(depth > scalp + 0.3 * (inner - scalp)) & (depth < inner - 0.3 * (inner - scalp))] = DIPLOE
    labels[depth > inner] = CSF
    labels[depth > brain] = GREY_MATTER
    white = brain + shape.cortex * (1.0 + shape.folding * (1.0 + fold))
    labels[depth > white] = WHITE_MATTER
    labels[(labels == GREY_MATTER) & (np.abs(sulci) < 0.14) & (depth < white - 0.3 * shape.cortex)] = CSF
    bs = shape.b * size
    _skull_base(labels, t, xr, yr, depth, inner, shape, bs)
    _midline(labels, t, xr, yr / bs, shape)
    return labels


def _skull_base(labels: np.ndarray, t: float, xr: np.ndarray, yr: np.ndarray, depth: np.ndarray, inner: float,
                shape: _Shape, bs: float) -> None:
    """Replace the anterior brain of low slices by soft tissue, bone, sinuses and orbits (in place)."""
    base = max(0.0, (0.3 - t) / 0.3)
    if base > 0:
        cut = -bs + base * 1.5 * bs - 0.9 * base * xr**2  # temporal lobes reach further forward than the sella
        inside = depth > shape.scalp
        labels[inside & (yr < cut) & (depth > inner)] = SKIN
        labels[inside & (np.abs(yr - cut) < 0.6 * shape.skull)] = CORTICAL_BONE
        sphenoid = _bump(t, 0.12, 0.08)
        labels[_ellipse(xr, yr, 0.0, cut - 0.12, 0.09 * sphenoid, 0.07 * sphenoid)] = SINUS
    frontal = _bump(t, 0.29, 0.07)
    if frontal > 0:
        y0 = -bs + shape.scalp + 0.045
        labels[_ellipse(xr, yr, 0.0, y0, 0.1 * frontal, 0.05 * frontal) & (depth > shape.scalp)] = CORTICAL_BONE
        labels[_ellipse(xr, yr, 0.0, y0, 0.07 * frontal, 0.03 * frontal)] = SINUS
    eyes = _bump(t, 0.19, 0.09)
    if eyes > 0:
        for side in (-1.0, 1.0):
            x0, y0 = side * 0.27 * shape.a / 0.62, -0.8 * bs
            covered = depth > 0.5 * shape.scalp
            labels[covered & _ellipse(xr, yr, x0, y0, 0.14 * eyes, 0.13 * eyes)] = FAT
            labels[covered & _ellipse(xr, yr, x0, y0, 0.1 * eyes, 0.1 * eyes)] = EYE


def _midline(labels: np.ndarray, t: float, xr: np.ndarray, yn: np.ndarray, shape: _Shape) -> None:
    """Interhemispheric fissure, deep grey matter and ventricles (in place); yn is yr relative to the head."""
    brain = (labels == GREY_MATTER) | (labels == WHITE_MATTER)
    if t > 0.35:
        fissure = (np.abs(xr) < 0.008) & ((np.abs(yn - 0.02) > 0.4) | (t > 0.75))
        labels[brain & fissure] = CSF
    deep = _bump(t, 0.46, 0.1)
    if deep > 0:
        for side in (-1.0, 1.0):
            labels[brain & _ellipse(xr, yn, side * 0.12, 0.05, 0.07 * deep, 0.17 * deep)] = GREY_MATTER
    body = _bump(t, 0.56, 0.18) * shape.ventricles
    if body > 0:
        for side in (-1.0, 1.0):
            centre = side * (0.03 + 0.12 * np.maximum(yn - 0.05, 0.0))
            labels[brain & _ellipse(xr, yn, centre, 0.03, 0.03 * body, 0.28 * min(body, 1.0))] = VENTRICLE
    third = _bump(t, 0.42, 0.07) * shape.ventricles
    if third > 0:
        labels[brain & _ellipse(xr, yn, 0.0, 0.08, 0.008 * third, 0.12)] = VENTRICLE


def _ct_table(rng: np.random.Generator) -> np.ndarray:
    """Per-patient CT value (HU) of each label."""
    table = np.array([-1000, 40, -100, 1500, 700, 10, 40, 28, 8, -950, 10], dtype=np.float32)
    table[CORTICAL_BONE] = rng.uniform(1300, 1800)
    table[DIPLOE] = rng.uniform(500, 900)
    table[[GREY_MATTER, WHITE_MATTER]] = rng.uniform(36, 44), rng.uniform(25, 30)
    return table


def _downsample(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def make_phantom_patient(seed: int, size: int = 256, slices: int = 24) -> PhantomPatient:
    """Generate one synthetic patient deterministically from ``seed``.

    Args:
        seed: any non-negative integer; the same seed always gives identical arrays.
        size: image rows and columns (the field of view is 240 mm whatever the size).
        slices: number of axial slices from skull base to vertex (the stack spans 120 mm).

    Returns:
        The patient's label, CT and MR volumes of shape (slices, size, size).
    """
    if size < 16 or slices < 1:
        raise ConfigError(f"phantom size must be >= 16 and slices >= 1, got size={size}, slices={slices}")
    rng = np.random.default_rng(seed)
    shape, table = _Shape.draw(rng), _ct_table(rng)
    fold, sulci = _Waves(rng, 24, 2.0, 5.0), _Waves(rng, 32, 3.0, 7.0)
    bias = _Waves(rng, 6, 0.2, 0.6)
    ct_sigma, mr_sigma, bias_strength = rng.uniform(5.0, 10.0), rng.uniform(8.0, 16.0), rng.uniform(0.08, 0.18)
    hi = np.linspace(-1 + 0.5 / size, 1 - 0.5 / size, 2 * size, dtype=np.float32)
    lo = hi.reshape(size, 2).mean(axis=1)
    x, y = np.meshgrid(hi, hi)
    couch = _couch(x, y, shape)
    labels = np.empty((slices, size, size), dtype=np.uint8)
    ct = np.empty((slices, size, size), dtype=np.float32)
    mr = np.empty((slices, size, size), dtype=np.float32)
    for k in range(slices):
        t = (k + 0.5) / slices
        z = t * STACK_MM / (FOV_MM / 2)
        lab = _slice_labels(shape, t, x, y, fold.at(hi, hi, z), sulci.at(hi, hi, z))
        labels[k] = lab[::2, ::2]
        ct_hi = np.where(couch & (lab == AIR), np.float32(COUCH_HU), table[lab])
        ct[k] = _downsample(ct_hi)
        mr[k] = _downsample(_MR_T2[lab]) * np.exp(bias_strength * bias.at(lo, lo, z))
    ct += rng.normal(0.0, ct_sigma, ct.shape).astype(np.float32)
    np.clip(ct, -1024.0, 3071.0, out=ct)
    noise = rng.normal(0.0, mr_sigma, (2, *mr.shape)).astype(np.float32)
    mr = np.sqrt((mr + noise[0]) ** 2 + noise[1] ** 2)
    return PhantomPatient(seed=seed, labels=labels, ct=ct, mr=mr.astype(np.float32),
                          pixel_spacing_mm=FOV_MM / size, slice_thickness_mm=STACK_MM / slices)


def _couch(x: np.ndarray, y: np.ndarray, shape: _Shape) -> np.ndarray:
    """A thin curved table shell below (posterior to) the head, as seen on head CTs."""
    y0 = min(shape.cy + shape.b + 0.08, 0.95)
    curve = y0 - 0.25 * x**2
    return (np.abs(y - curve) < 0.012) & (np.abs(x) < 0.85)


_README = """SYNTHETIC DATA - digital brain phantom generated by sccg-edge (make_phantom_patient, phantom v1).
These are NOT images of real patients and contain no personal data. Use them to try the commands; metrics
computed on them say nothing about real CT or MR.

Layout: <patient>/ct/NNN.dcm (CT Image Storage, Hounsfield units via RescaleIntercept) and <patient>/mr/NNN.dcm
(MR Image Storage, T2-weighted contrast, arbitrary units); slice NNN of ct/ and mr/ is one co-registered pair
(same FrameOfReferenceUID and ImagePositionPatient), slice 000 at the skull base.
Parameters: patients={patients} size={size} slices={slices} seed={seed} (patient i uses seed {seed} * 1000 + i).
"""


def write_phantom_dataset(out: Path, patients: int = 4, size: int = 256, seed: int = 0,
                          slices: int = 24) -> dict[str, Any]:
    """Write a paired phantom data set as DICOM: ``out/p000/ct/000.dcm``, ``out/p000/mr/000.dcm``, ...

    The files are written into a temporary folder beside ``out``, which is renamed into place at the end, so
    ``out`` is either absent or complete.

    Args:
        out: destination folder; must not exist or be empty.
        patients: number of synthetic patients (ids p000, p001, ...).
        size: image rows and columns.
        seed: base seed; patient i is generated from ``seed * 1000 + i``.
        slices: axial slices per patient.

    Returns:
        A JSON-ready summary: out, patients, patient_ids, slices, size, seed, n_files, ct_hu_range, mr_range,
        pixel_spacing_mm, slice_thickness_mm and ``synthetic: True``.

    Raises:
        InputError: ``out`` exists and is not an empty folder (nothing is written or changed).
        ConfigError: a parameter is out of range.
    """
    out = Path(out)
    check_value(patients, Bounds(1, 1000), "patients", "data phantom")
    check_value(size, Bounds(16, SIZE_MAX, multiple=4), "size", "data phantom")
    _check_empty(out)
    check_writable(out, need_bytes=patients * slices * size * size * 2 * 2)  # CT + MR, 16-bit
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        summary = _write_patients(tmp, patients, size, seed, slices)
        (tmp / "README.txt").write_text(_README.format(patients=patients, size=size, slices=slices, seed=seed))
        _check_empty(out)
        if out.exists():
            out.rmdir()  # empty, checked just above; os.rename cannot replace it portably
        tmp.chmod(0o755)  # mkdtemp makes it private
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out": str(out), **summary, "size": size, "seed": seed, "synthetic": True}


def _check_empty(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("the phantom output path exists and is not an empty folder; choose a new folder or remove it",
                         path=out)


def _write_patients(root: Path, patients: int, size: int, seed: int, slices: int) -> dict[str, Any]:
    ids_list, n_files = [], 0
    ct_range, mr_range = [np.inf, -np.inf], [np.inf, -np.inf]
    for i in range(patients):
        pid = f"p{i:03d}"
        patient = make_phantom_patient(seed * 1000 + i, size=size, slices=slices)
        study, frame = new_uid(), new_uid()
        spacing, thickness = patient.pixel_spacing_mm, patient.slice_thickness_mm
        corner = -(size - 1) / 2 * spacing
        for number, (modality, volume) in enumerate((("CT", patient.ct), ("MR", patient.mr)), start=1):
            ids = SeriesIds(study_uid=study, series_uid=new_uid(), frame_of_reference_uid=frame,
                            series_number=number, patient_id=f"SYNTH-{pid}", study_id=pid,
                            study_description="sccg-edge synthetic brain phantom",
                            series_description=f"SYNTHETIC phantom {'CT' if modality == 'CT' else 'T2 MR'}")
            folder = root / pid / modality.lower()
            folder.mkdir(parents=True)
            for k in range(slices):
                z = (k - (slices - 1) / 2) * thickness
                geometry = SliceGeometry(position=(corner, corner, z), pixel_spacing=(spacing, spacing),
                                         slice_thickness=thickness)
                write_slice(folder / f"{k:03d}.dcm", volume[k], modality=modality, geometry=geometry, ids=ids,
                            instance_number=k + 1, extra={"ManufacturerModelName": "digital brain phantom v1"})
                n_files += 1
        ct_range = [min(ct_range[0], float(patient.ct.min())), max(ct_range[1], float(patient.ct.max()))]
        mr_range = [min(mr_range[0], float(patient.mr.min())), max(mr_range[1], float(patient.mr.max()))]
        ids_list.append(pid)
    return {"patients": patients, "patient_ids": ids_list, "slices": slices, "n_files": n_files,
            "ct_hu_range": [round(v, 1) for v in ct_range], "mr_range": [round(v, 1) for v in mr_range],
            "pixel_spacing_mm": FOV_MM / size, "slice_thickness_mm": STACK_MM / slices}
