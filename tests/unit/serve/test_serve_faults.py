"""Faults: an aborted sender, a destination that is down, a node killed with SIGKILL, a full disk.

After each: nothing lost (every series comes out once complete, or waits visibly), nothing duplicated, nothing
partial in the output folder or at the destination.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.unit.serve.conftest import (
    dest_series,
    done_records,
    echo,
    free_port,
    read_status,
    send,
    series_datasets,
    wait_for,
    write_datasets,
)

OUT_OF_RESOURCES = 0xA700


def _no_partials(*folders: Path) -> None:
    for folder in folders:
        assert not [p for p in folder.rglob("*") if p.name.startswith(".") and "partial" in p.name], folder


def test_sender_aborts_mid_series_then_resends(make_node, phantom: Path) -> None:
    node = make_node()
    datasets = series_datasets(phantom / "p000" / "mr")
    assert send(node.port, datasets, abort_after=3) == [0, 0, 0]
    held = wait_for(lambda: node.status()["queue"]["held_series"], 10, "the aborted series to be held")
    assert "aborted" in held[datasets[0].SeriesInstanceUID]
    time.sleep(1.0)  # twice the idle timeout: still not converted
    assert not done_records(node.cfg.spool) and not list(node.cfg.out.iterdir())
    assert send(node.port, datasets) == [0] * 6
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the re-sent series")[0]
    assert record["n_slices"] == 6 and len(list(node.cfg.out.iterdir())) == 1
    assert node.status()["counters"]["associations_aborted"] == 1


def test_destination_down_retries_then_waits_visibly(make_node, storescp, phantom: Path) -> None:
    from sccg_edge.serve.config import Destination

    port = free_port()  # nothing listens here yet
    node = make_node(forward=Destination("127.0.0.1", port, "DEST"), out=None, forward_retries=2, forward_park=1.0)
    datasets = series_datasets(phantom / "p001" / "mr")
    assert send(node.port, datasets) == [0] * 6

    def waiting() -> dict | None:
        status = read_status(node.cfg.spool)
        failing = status.get("queue", {}).get("delivery_failing") or []
        return failing[0] if failing and failing[0]["waiting"] else None

    row = wait_for(waiting, 30, "the series to wait in the spool")
    assert row["series_uid"] == datasets[0].SeriesInstanceUID and row["forward_attempts"] >= 2
    assert "could not connect" in row["last_error"]
    assert read_status(node.cfg.spool)["queue"]["forward_waiting"] == 1
    job = json.loads((node.cfg.spool / "jobs" / row["series_uid"] / "job.json").read_text())
    assert job["state"] == "converted" and job["waiting"]
    _, dest, _ = storescp(port)  # the destination comes back
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the forward after the destination came back")[0]
    got = dest_series(dest)
    assert list(got) == [record["output_series_uid"]] and len(got[record["output_series_uid"]]) == 6
    assert record["forward_attempts"] >= 2
    wait_for(lambda: not list((node.cfg.spool / "jobs").iterdir()), 5, "the job folder to be removed")


def test_sigkill_during_conversion_then_restart(child_node, storescp, tmp_path: Path) -> None:
    """The shipped student-ps converts a 16-slice series; the node is killed mid-conversion and restarted."""
    from sccg_edge.data.phantom import write_phantom_dataset

    write_phantom_dataset(tmp_path / "ph", patients=1, size=64, slices=16)
    files = write_datasets(series_datasets(tmp_path / "ph" / "p000" / "mr"), tmp_path / "sent")
    port, dest, _ = storescp()
    spool, out = tmp_path / "spool", tmp_path / "out"
    args = ["--model", "student-ps", "--direction", "mr2ct", "--port", "0", "--host", "127.0.0.1", "--out", str(out),
            "--forward", f"127.0.0.1:{port}:DEST", "--idle-timeout", "0.5", "--threads", "1"]
    node = child_node(args, spool)
    from pydicom import dcmread

    assert send(node.port, [dcmread(f) for f in files]) == [0] * 16
    wait_for(lambda: len(list(spool.glob("jobs/*/.output.*.partial/*.dcm"))) >= 2, 120, "conversion to be under way")
    node.kill()
    assert not list(out.iterdir()) and not dest_series(dest)  # nothing partial was published or forwarded
    restarted = child_node(args, spool)
    record = wait_for(lambda: done_records(spool), 180, "the resumed conversion")[0]
    assert "resuming series" in restarted.log.read_text()
    [folder] = list(out.iterdir())
    assert folder.name == record["output_series_uid"] and len(list(folder.glob("*.dcm"))) == 16
    got = dest_series(dest)
    assert list(got) == [record["output_series_uid"]] and len(set(got[folder.name])) == 16
    _no_partials(out, spool)
    wait_for(lambda: not list((spool / "jobs").iterdir()), 5, "the job folder to be removed")
    assert not list((spool / "incoming").iterdir())


def test_spool_budget_refuses_with_out_of_resources(make_node, phantom: Path) -> None:
    """A spool byte budget answers 0xA700 and holds the series; after a restart with room, a re-send completes it."""
    datasets = series_datasets(phantom / "p002" / "mr")
    size = len(datasets[0].PixelData) + 2048
    node = make_node(max_spool_bytes=3 * size)
    statuses = send(node.port, datasets)
    assert statuses[0] == 0 and OUT_OF_RESOURCES in statuses, statuses
    assert echo(node.port)
    held = wait_for(lambda: node.status()["queue"]["held_series"], 10, "the refused series to be held")
    assert "lack of space" in held[datasets[0].SeriesInstanceUID]
    node.stop()
    node = make_node()  # same spool, no budget: the held series is still held after the restart
    held = wait_for(lambda: node.status()["queue"]["held_series"], 10, "the series to be held after restart")
    assert datasets[0].SeriesInstanceUID in held and not done_records(node.cfg.spool)
    assert send(node.port, datasets) == [0] * 6
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the re-sent series")[0]
    assert record["n_slices"] == 6 and len(list(node.cfg.out.iterdir())) == 1


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    """A 96 KiB tmpfs (a real ENOSPC); skips where mounting is not permitted."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the real-ENOSPC test needs a tmpfs mount")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)], capture_output=True,
                         text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {res.stderr.strip()[:120]}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_refuses_then_recovers(make_node, tiny_tmpfs: Path, tmp_path: Path) -> None:
    from sccg_edge.data.phantom import write_phantom_dataset

    write_phantom_dataset(tmp_path / "ph", patients=1, size=64, slices=12)
    datasets = series_datasets(tmp_path / "ph" / "p000" / "mr")
    node = make_node(spool=tiny_tmpfs / "spool")
    statuses = send(node.port, datasets)
    assert statuses[0] == 0 and OUT_OF_RESOURCES in statuses, statuses
    assert echo(node.port)
    held = wait_for(lambda: node.status()["queue"]["held_series"], 10, "the refused series to be held")
    assert "lack of space" in held[datasets[0].SeriesInstanceUID]
    subprocess.run(["mount", "-o", "remount,size=32m", str(tiny_tmpfs)], check=True)  # the operator makes room
    assert send(node.port, datasets) == [0] * 12
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the re-sent series")[0]
    assert record["n_slices"] == 12
    [folder] = list(node.cfg.out.iterdir())
    assert len(list(folder.glob("*.dcm"))) == 12
    _no_partials(node.cfg.out, node.cfg.spool)
