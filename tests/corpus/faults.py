"""Builders of the output, filesystem and signal cases of the corpus (issue 17, classes 3-5).

Everything is generated at test time: NaN weights from the tiny model, artifacts by the real ``export`` command,
read-only and tiny file systems as real tmpfs mounts, signals sent to real ``sccg-edge`` subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """A real tmpfs mounted on ``where`` (read-only, or of ``size``), unmounted afterwards.

    ``chmod`` does not stop root, so faults are made with mounts; without root or ``mount`` the test skips, saying so.
    """
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only or tiny file system needs root and mount(8) (chmod does not stop root)")
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def nan_model(src: Path, dest: Path, value: float = float("nan")) -> Path:
    """A copy of a generator file whose float weights are all ``value`` (its metadata kept)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open is not a dict
    for key, t in tensors.items():
        if t.is_floating_point():
            tensors[key] = t.clone().fill_(value)
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest), metadata=meta)
    return dest


def strip_onnx_metadata(src: Path, dest: Path) -> Path:
    """A copy of an ONNX file without the metadata sccg-edge records (as written before it did)."""
    import onnx

    model = onnx.load(str(src))
    del model.metadata_props[:]
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dest))
    return dest


def float_image(path: Path, nan_at: tuple[int, int] | None = (3, 4)) -> Path:
    """A 32-bit float image (TIFF bytes) saved under ``path`` (e.g. ``a.png``), with a NaN pixel."""
    from PIL import Image

    arr = np.linspace(0, 200, 16 * 16, dtype=np.float32).reshape(16, 16)
    if nan_at is not None:
        arr[nan_at] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode="F").save(path, format="TIFF")
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m sccg_edge ARGS`` as a real subprocess of this checkout (stderr captured).

    SIGINT is reset to its default in the child: a test suite started in the background by a non-interactive shell
    (``cmd &``) inherits SIGINT ignored, and Python keeps an inherited SIG_IGN, so Ctrl-C could not be tested.
    """
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "sccg_edge", *args], cwd=REPO, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(predicate, timeout: float, proc: subprocess.Popen[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true; fail when ``timeout`` passes or ``proc`` ends first."""
    end = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the process ended (rc {proc.returncode}) before the moment to signal it: {err[-2000:]}")
        if time.monotonic() > end:
            pytest.fail("timed out waiting for the process to reach its work")
        time.sleep(0.05)


def signal_mid_work(proc: subprocess.Popen[str], ready, sig: int, timeout: float = 60) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Send ``sig`` once ``ready()`` holds (the work has started); returns (exit code, stderr)."""
    wait_for(ready, timeout, proc)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the process did not stop within 60 s of {signal.Signals(sig).name}")
    return proc.returncode, err


def hold_claim(out: Path) -> subprocess.Popen[str]:
    """Another process holding the output claim of ``out`` (as a running convert does) until it is terminated."""
    code = ("import sys, time; from pathlib import Path; from sccg_edge.utils.fs import claim_output\n"
            "with claim_output(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=REPO, text=True, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc
