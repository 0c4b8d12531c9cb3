"""The training machinery that train (the teacher) and distill (the students) share: the resumable epoch loop
(``loop.py``), training-state checkpoints (``checkpoint.py``), data parallelism and mixed precision (``parallel.py``).

Why a core package and not ``train/`` as in STYLE.md's layout: distill is a stage of its own beside train (neither
imports the other), so what both run on belongs to the core. Weight files themselves are :mod:`sccg_edge.models.weights`.
"""
