"""Values made fit for strict JSON: a PSNR of identical images is ``inf``, which JSON cannot hold."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any, inf_as_text: bool = False) -> Any:
    """``value`` (nested dicts and lists) with every non-finite float replaced: NaN by None, +-inf by None or, with
    ``inf_as_text``, by the strings "inf" / "-inf" (so a reader can tell a perfect score from a missing one)."""
    if isinstance(value, dict):
        return {k: json_safe(v, inf_as_text) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v, inf_as_text) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value) or not inf_as_text:
            return None
        return "inf" if value > 0 else "-inf"
    return value
