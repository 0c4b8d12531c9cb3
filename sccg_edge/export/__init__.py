"""Export a generator to ONNX, OpenVINO IR or a TensorRT engine, driven by YAML profiles in ``export/``.

Importing this package imports no runtime; each module imports its own (onnx, openvino, tensorrt) when used.
"""

from __future__ import annotations
