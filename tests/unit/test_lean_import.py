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
