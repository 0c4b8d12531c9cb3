from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from sccg_edge.models import build_generator

ort = pytest.importorskip("onnxruntime")


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("overrides", [{}, {"upsample": "resize", "padding": "zero"}, {"shuffle": 2}])
def test_onnx_export_parity(overrides: dict) -> None:
    torch.manual_seed(0)
    g = build_generator("student-s", ngf=8, n_blocks=2, **overrides).eval()
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    buf = io.BytesIO()
    torch.onnx.export(g, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}})
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 32, 32), (2, 1, 48, 64)]:
        xi = torch.rand(shape) * 2 - 1
        with torch.no_grad():
            ref = g(xi).numpy()
        np.testing.assert_allclose(sess.run(None, {"x": xi.numpy()})[0], ref, atol=1e-4)
