"""The train stage: the scCycleGAN teacher (``teacher.py``, ``run.py``) and its patient cross-validation (``cv.py``).

Only the CLI imports this package; other stages use a trained teacher through its run or model folder.
"""

from __future__ import annotations

from sccg_edge.train.cv import plot_curves, run_cv
from sccg_edge.train.run import model_cost, resume_config, train_teacher

__all__ = ["model_cost", "plot_curves", "resume_config", "run_cv", "train_teacher"]
