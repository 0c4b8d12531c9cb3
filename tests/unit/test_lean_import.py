"""`import sccg_edge` and `sccg-edge --help` stay light: no inference runtime is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openvino", "nncf", "onnxruntime", "tensorrt", "torch_tensorrt")


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_import_package_is_lean():
    mods = _imported_after("import sccg_edge")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert "torch" not in mods


def test_cli_help_is_lean():
    code = ("import sys\nfrom sccg_edge.cli import main\nsys.argv=['sccg-edge','--help']\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    mods = _imported_after(code)
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_every_stage_imports_without_an_inference_runtime():
    """Heavy optional runtimes are imported only inside the functions that run them (ARCHITECTURE.md)."""
    stages = ("config", "data.slices", "metrics.score", "backends", "engine.loop", "train", "distill", "quantize",
              "export", "bench", "convert", "ship", "evaluate", "serve", "review.gallery", "review.study", "demo")
    mods = _imported_after("\n".join(f"import sccg_edge.{s}" for s in stages)
                           + "\nimport sccg_edge.backends.base as b\nb.ensure_registered()")
    assert not {m for m in mods if m.split(".")[0] in (*HEAVY, "pynetdicom")}
