"""Calibration sets and FP16 / INT8 (PTQ, fidelity-budgeted, QAT) artifacts with model cards.

The entry point is :func:`sccg_edge.quantize.ptq.quantize_artifact`; importing this package imports no runtime.
"""

from __future__ import annotations
