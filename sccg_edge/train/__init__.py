"""Training: the scCycleGAN teacher (``teacher.py``) and checkpoints (``checkpoint.py``)."""
