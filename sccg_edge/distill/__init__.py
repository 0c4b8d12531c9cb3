"""The distill stage: a small student generator learns from the frozen scCycleGAN teacher (``run.py``), and the
students are written as self-describing generators with a model card (``card.py``)."""

from __future__ import annotations

from sccg_edge.distill.run import distill

__all__ = ["distill"]
