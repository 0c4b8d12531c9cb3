"""The README's quick path, run in order as written (slow: ``-m slow``), in a fresh folder without ``../shared``.

Every line of the ``quick-path`` block runs in a shell exactly as written, with ``sccg-edge`` this checkout's CLI;
only the budgets are cut through ``$SCCG_SET_<COMMAND>`` so that the whole path takes minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUDGETS = {
    "SCCG_SET_DISTILL": "max_steps=2 val_max_slices=2 data.size=64 data.crop=0",
    "SCCG_SET_QUANTIZE": "size=64 subset_size=4 val_max_slices=2",
    "SCCG_SET_BENCH": "sizes=[64] iters=2 warmup=1 heavy_iters=1 heavy_warmup=0 fidelity_slices=2 "
                      "precisions=[fp32,int8]",
}


def quick_path_commands() -> list[str]:
    """The commands of the README's quick-path block, comments dropped, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- quick-path -->\s*```bash\n(.*?)```\s*<!-- /quick-path -->", text, re.S)
    assert block, "README.md has no quick-path block"
    commands = []
    for line in block.group(1).splitlines():
        code = line.split("#", 1)[0].strip()
        if code:
            commands.append(code)
    return commands


def test_quick_path_block_is_found_and_starts_from_nothing() -> None:
    commands = quick_path_commands()
    assert [c.split()[1] for c in commands][:4] == ["data", "distill", "quantize", "bench"]
    assert "sccg-edge distill" in commands and "sccg-edge quantize --int8" in commands
    assert all("runs/teacher" not in c and "../shared" not in c for c in commands)


@pytest.mark.slow
def test_readme_quick_path_runs_in_order(tmp_path: Path) -> None:
    env = {**os.environ, **BUDGETS, "SCCG_SHARED_DATA": str(tmp_path / "no-shared-data"),
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cli = f"{sys.executable} -m sccg_edge"
    for command in quick_path_commands():
        done = subprocess.run(command.replace("sccg-edge", cli, 1), shell=True, cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    assert (tmp_path / "sct-series").is_dir() and list((tmp_path / "runs").glob("quantize-*/ct2mr/model.xml"))
