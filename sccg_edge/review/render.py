"""Pictures and pages: slices as PNG files, signed difference maps, CT display windows, self-contained HTML.

Pages are filled from templates shipped in ``sccg_edge/review/templates`` (HTML with its CSS and script inlined at
build time, the page's data as a JSON block), so one ``.html`` file and a folder of PNGs are the whole page: no
server, no network.
"""

from __future__ import annotations

import html
import json
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DIFF_RANGE = 64.0  # a difference of this many grey levels (0..255 scale) or more is drawn at full colour

#: Display windows offered for CT, as (level, width) in HU.
DISPLAY_WINDOWS: dict[str, tuple[str, float, float]] = {
    "brain": ("Brain (L40 W80)", 40.0, 80.0),
    "soft": ("Soft tissue (L40 W400)", 40.0, 400.0),
    "bone": ("Bone (L500 W2000)", 500.0, 2000.0),
}


def write_png(img255: np.ndarray, path: Path) -> None:
    """An (S, S) grey image on 0..255 (float) or an (S, S, 3) uint8 RGB image as a PNG file."""
    arr = np.asarray(img255)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, optimize=True)


def diff_rgb(pred255: np.ndarray, ref255: np.ndarray) -> np.ndarray:
    """Signed difference ``pred - ref`` as RGB: black where equal, orange brighter, azure darker, full at 64 levels."""
    t = np.clip((np.asarray(pred255, np.float64) - np.asarray(ref255, np.float64)) / DIFF_RANGE, -1.0, 1.0)
    pos, neg = np.maximum(t, 0.0), np.maximum(-t, 0.0)
    rgb = np.stack([255.0 * pos, 150.0 * pos + 160.0 * neg, 255.0 * neg], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def window_maps(stored_hu: tuple[float, float]) -> dict[str, dict[str, Any]]:
    """Each display window as a linear map of the stored 0..1 grey value: ``out = slope * v + intercept``, clamped.

    The images hold a window (``stored_hu``, e.g. brain 0..80 HU) as 0..255; a display window can only re-map that
    range: what lay outside it was clipped when the images were made.
    """
    lo_s, hi_s = stored_hu
    out = {}
    for key, (name, level, width) in DISPLAY_WINDOWS.items():
        lo_d = level - width / 2.0
        out[key] = {"name": name, "level": level, "width": width, "slope": round((hi_s - lo_s) / width, 6),
                    "intercept": round((lo_s - lo_d) / width, 6)}
    return out


def svg_filters(windows: dict[str, dict[str, Any]]) -> str:
    """Inline SVG filters (one per window) that apply the linear maps of :func:`window_maps` in sRGB."""
    parts = []
    for key, w in windows.items():
        funcs = "".join(f'<feFunc{c} type="linear" slope="{w["slope"]}" intercept="{w["intercept"]}"/>'
                        for c in "RGB")
        parts.append(f'<filter id="win-{key}" color-interpolation-filters="sRGB">'
                     f"<feComponentTransfer>{funcs}</feComponentTransfer></filter>")
    return "".join(parts)


def finite(value: float | None, digits: int = 4) -> float | None:
    """A metric for JSON: rounded, or None when not finite (PSNR of identical images is inf)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def template(name: str) -> str:
    """The text of a packaged template file."""
    return (resources.files("sccg_edge.review") / "templates" / name).read_text(encoding="utf-8")


def json_block(data: Any) -> str:
    """JSON safe to put inside a ``<script type="application/json">`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_page(page: str, title: str, data: Any, extra: dict[str, str] | None = None) -> str:
    """Fill template ``<page>.html`` with its ``<page>.css`` and ``<page>.js``, the title and the data block."""
    text = template(f"{page}.html")
    fills = {"@CSS@": template(f"{page}.css"), "@JS@": template(f"{page}.js"), "@TITLE@": html.escape(title),
             "@DATA@": json_block(data), **(extra or {})}
    pattern = re.compile("|".join(re.escape(m) for m in fills))
    return pattern.sub(lambda m: fills[m.group(0)], text)  # one pass: filled text is never searched again
