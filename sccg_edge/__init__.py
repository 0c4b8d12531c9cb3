"""sccg-edge: a structure-constrained CycleGAN for brain MR<->CT, made light for edge CPUs and GPUs.

Importing this package is cheap: it pulls in neither torch's CUDA nor any inference runtime
(openvino, nncf, onnxruntime, tensorrt). Those are imported inside the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
