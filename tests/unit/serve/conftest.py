"""Fixtures for the serve tests: tiny phantom series, a node in this process or in a child, a pynetdicom SCU,
dcmtk's storescp as the forwarding destination. Nodes listen on loopback ports the OS picks (``--port 0``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from sccg_edge.serve.dcmtk import find_dcmtk
from tests.conftest import REPO_ROOT

pytest.importorskip("pynetdicom", reason="pynetdicom is not installed (a dependency of sccg-edge: pip install -e .)")

SCU_AET = "TESTSCU"
PHI_NAME, PHI_ID = "Doe^Janet", "PHI-4711-XYZ"  # distinctive patient attributes: must never reach a log


SLACK = 4.0  # the test machines are shared with training runs: bounds are generous, they only matter on failure


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something truthy; fail the test after ``SLACK * timeout`` seconds."""
    timeout *= SLACK
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dcmtk(tool: str) -> str:
    """Path of a dcmtk tool, or skip the test with the reason."""
    found = find_dcmtk(tool)
    if found is None:
        pytest.skip(f"dcmtk's {tool} is not installed (apt-get install dcmtk; ./run.sh test installs it as root)")
    return found


# ---------------------------------------------------------------------------------------------- data


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with random ngf=4 student-xs generators of both directions at 32x32 (fast, not trained)."""
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    folder = tmp_path_factory.mktemp("serve_model")
    torch.manual_seed(0)
    for direction in ("mr2ct", "ct2mr"):
        save_generator(build_generator("student-xs", ngf=4), folder / f"g_{direction}.safetensors", direction, 32)
    return folder


@pytest.fixture(scope="session")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 synthetic patients, 32x32, 6 slices: <root>/p00N/{ct,mr}/NNN.dcm."""
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("serve_phantom") / "phantom"
    write_phantom_dataset(root, patients=4, size=32, slices=6)
    return root


def series_datasets(folder: Path, new_uids: bool = True, phi: bool = True) -> list[Any]:
    """The series in ``folder`` as datasets, with fresh UIDs (each call a new series) and PHI-like patient tags."""
    import pydicom
    from pydicom.uid import generate_uid

    out, series = [], generate_uid()
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if new_uids:
            ds.SeriesInstanceUID = series
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if phi:
            ds.PatientName, ds.PatientID = PHI_NAME, PHI_ID
        out.append(ds)
    return out


def write_datasets(datasets: list[Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, ds in enumerate(datasets):
        paths.append(folder / f"{k:03d}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


# ---------------------------------------------------------------------------------------------- SCU


def send(port: int, datasets: list[Any], aet: str = SCU_AET, called: str = "SCCG", abort_after: int | None = None,
         contexts: list[tuple[str, list[str]]] | None = None) -> list[int]:
    """C-STORE ``datasets`` in one association with pynetdicom; returns the statuses (aborts after N if asked).

    -1 stands for an instance that got no response, a trailing -2 for a release that was not confirmed.
    """
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage, MRImageStorage

    ae = AE(ae_title=aet)
    for sop_class, syntaxes in contexts or [(MRImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]),
                                            (CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]:
        ae.add_requested_context(sop_class, syntaxes)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    assert assoc.is_established, "association was not accepted"
    statuses = []
    for k, ds in enumerate(datasets):
        if abort_after is not None and k == abort_after:
            assoc.abort()
            return statuses
        rsp = assoc.send_c_store(ds)
        statuses.append(int(rsp.Status) if "Status" in rsp else -1)
    assoc.release()
    if not assoc.is_released:
        statuses.append(-2)  # the release was not confirmed (the node died)
    return statuses


def echo(port: int, aet: str = SCU_AET) -> bool:
    """C-ECHO with pynetdicom: True when the node answered success."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=aet)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="SCCG")
    if not assoc.is_established:
        return False
    ok = int(assoc.send_c_echo().get("Status", -1)) == 0
    assoc.release()
    return ok


# ---------------------------------------------------------------------------------------------- nodes


@pytest.fixture
def make_node(tmp_path: Path, tiny_model: Path) -> Iterator[Callable[..., Any]]:
    """Start in-process nodes (mr2ct, tiny model, 0.5 s idle timeout); all are stopped at teardown."""
    from sccg_edge.serve.config import ServeConfig
    from sccg_edge.serve.node import Node

    nodes: list[Any] = []
    base = ServeConfig(model=str(tiny_model), direction="mr2ct", spool=tmp_path / "spool", out=tmp_path / "out",
                       host="127.0.0.1", port=0, idle_timeout=0.5, threads=1, forward_backoff_max=1.0,
                       forward_park=1.0)

    def make(**changes: Any) -> Any:
        node = Node(replace(base, **changes)).start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        if node.spool is not None and not node._stop.is_set():
            node.stop()


@dataclass
class ChildNode:
    """A ``sccg-edge serve`` process; its log is its stderr file."""

    proc: subprocess.Popen
    spool: Path
    log: Path

    @property
    def port(self) -> int:
        return int(read_status(self.spool)["node"]["port"])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def read_status(spool: Path) -> dict[str, Any]:
    try:
        return json.loads((spool / "status.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.fixture
def child_node(tmp_path: Path) -> Iterator[Callable[..., ChildNode]]:
    """Start ``sccg-edge serve ARGS`` in a child process (``prelude``: Python run first); stopped at teardown."""
    children: list[ChildNode] = []

    def start(args: list[str], spool: Path, prelude: str = "", timeout: float = 120.0) -> ChildNode:
        code = f"{prelude}\nimport sys\nfrom sccg_edge.cli import main\nsys.exit(main(sys.argv[1:]))"
        log = tmp_path / f"node{len(children)}.log"
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--spool", str(spool), *args], env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        child = ChildNode(proc, spool, log)
        children.append(child)

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
            status = read_status(spool)
            return status.get("node", {}).get("pid") == proc.pid and status["node"].get("running")

        wait_for(up, timeout, "the node to listen")
        return child

    yield start
    for child in children:
        child.stop()


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Callable[..., tuple[int, Path, subprocess.Popen]]]:
    """Start dcmtk's storescp (AE DEST) on a port; returns (port, folder it writes to, process)."""
    procs: list[subprocess.Popen] = []

    def start(port: int | None = None) -> tuple[int, Path, subprocess.Popen]:
        tool = dcmtk("storescp")
        port = port or free_port()
        folder = tmp_path / f"dest{len(procs)}"
        folder.mkdir()
        proc = subprocess.Popen([tool, "-aet", "DEST", "-od", str(folder), str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        procs.append(proc)

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, 20, "storescp to listen")
        return port, folder, proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def dest_series(folder: Path) -> dict[str, list[str]]:
    """Series UID -> SOP instance UIDs of the files a destination received."""
    import pydicom

    out: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        out.setdefault(str(ds.SeriesInstanceUID), []).append(str(ds.SOPInstanceUID))
    return out


def done_records(spool: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((spool / "done").glob("*.json"))]
