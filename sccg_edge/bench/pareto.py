"""A latency-vs-PSNR scatter plot (log-x) with the Pareto front, drawn with PIL (no matplotlib needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

W, H = 900, 600
LEFT, RIGHT, TOP, BOTTOM = 80, 250, 50, 70
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127)]


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated by another (lower latency x and higher PSNR y), sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def draw_pareto(points: list[tuple[float, float, str]], path: Path, title: str, ylabel: str = "PSNR (dB)") -> None:
    """Write a PNG scatter of (latency ms, PSNR, label); the Pareto front is joined by a line and ringed."""
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text((LEFT, 15), title, fill="black", font=font)
    x0, x1, y0, y1 = LEFT, W - RIGHT, TOP, H - BOTTOM
    d.rectangle([x0, y0, x1, y1], outline="black")
    if not points:
        d.text((x0 + 20, (y0 + y1) // 2), "no cases with both latency and PSNR", fill="black", font=font)
        img.save(path)
        return
    xs = [max(p[0], 1e-3) for p in points]
    ys = [p[1] for p in points]
    lx0, lx1 = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    ylo, yhi = min(ys), max(ys)
    pad = max((yhi - ylo) * 0.1, 0.5)
    ylo, yhi = ylo - pad, yhi + pad

    def px(x: float) -> float:
        return x0 + (math.log10(max(x, 1e-3)) - lx0) / (lx1 - lx0) * (x1 - x0)

    def py(y: float) -> float:
        return y1 - (y - ylo) / (yhi - ylo) * (y1 - y0)

    for t in _log_ticks(10**lx0, 10**lx1):
        d.line([px(t), y1, px(t), y1 + 5], fill="black")
        d.text((px(t) - 10, y1 + 8), f"{t:g}", fill="black", font=font)
    for i in range(6):
        v = ylo + (yhi - ylo) * i / 5
        d.line([x0 - 5, py(v), x0, py(v)], fill="black")
        d.text((x0 - 45, py(v) - 6), f"{v:.1f}", fill="black", font=font)
    d.text(((x0 + x1) // 2 - 80, y1 + 30), "median latency per slice (ms, log scale)", fill="black", font=font)
    d.text((8, y0 - 20), ylabel, fill="black", font=font)
    front = pareto_front([(p[0], p[1]) for p in points])
    d.line([(px(xs[i]), py(ys[i])) for i in front], fill=(200, 0, 0), width=2) if len(front) > 1 else None
    for k, (x, y, label) in enumerate(points):
        c = COLORS[k % len(COLORS)]
        shape = k // len(COLORS) % 3  # colour and shape together tell up to 30 points apart
        _marker(d, px(x), py(y), shape, c)
        if k in front:
            d.ellipse([px(x) - 7, py(y) - 7, px(x) + 7, py(y) + 7], outline=(200, 0, 0), width=2)
        ly = TOP + 14 * k
        if ly < H - 20:
            _marker(d, x1 + 16, ly + 6, shape, c)
            d.text((x1 + 26, ly), label[:36] + (" *" if k in front else ""), fill="black", font=font)
    d.text((x1 + 12, H - 40), "* on the Pareto front", fill=(200, 0, 0), font=font)
    img.save(path)


def _marker(d: Any, x: float, y: float, shape: int, color: tuple[int, int, int]) -> None:
    """A filled 8-pixel marker: 0 disc, 1 square, 2 diamond."""
    if shape == 1:
        d.rectangle([x - 4, y - 4, x + 4, y + 4], fill=color)
    elif shape == 2:
        d.polygon([(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)], fill=color)
    else:
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=color)
