"""The distill stage: a small student generator learns from the frozen scCycleGAN teacher (``run.py``), and the
students are written as self-describing generators with a model card (``card.py``).

STYLE.md places distillation in ``train/``; here it is a stage of its own, because it starts from any model spec (a
shipped teacher, a run folder) rather than from the train stage, and the cross-validation in ``train`` uses it through
this package's verb. The loop both run on is the core's :mod:`sccg_edge.engine`.
"""

from __future__ import annotations

from sccg_edge.distill.run import distill

__all__ = ["distill"]
