"""Slow serve tests (``-m slow``): 20 series under load, and a node killed again and again at random moments."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.unit.serve.conftest import dcmtk, dest_series, done_records, send, series_datasets, wait_for

pytestmark = pytest.mark.slow


def test_twenty_series_from_concurrent_storescu(tmp_path: Path) -> None:
    """benchmarks/serve_load.py on 20 phantom series (4 concurrent associations, shipped student-ps)."""
    dcmtk("storescu")
    out = tmp_path / "bench"
    args = ["--series", "20", "--single", "1", "--concurrency", "4", "--source", "phantom", "--phantom-size", "64",
            "--phantom-slices", "8", "--idle-timeout", "1", "--out", str(out)]
    res = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "serve_load.py"), *args],
                         capture_output=True, text=True, timeout=3600, check=False, cwd=REPO_ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    assert result["checks"]["ok"] and result["checks"]["series_at_destination"] == 21  # 20 at once, 1 alone
    assert result["node_counters"]["series_done"] == 21 and result["node_counters"]["instances_received"] == 168
    assert result["checks"]["dciodvfy_sample"]["files"] >= 6 and result["checks"]["dciodvfy_sample"]["errors"] == 0


def test_killed_at_random_moments_nothing_lost_duplicated_or_partial(child_node, storescp, phantom: Path,
                                                                       tiny_model: Path, tmp_path: Path) -> None:
    """Four series sent concurrently while the node is SIGKILLed five times at random moments and restarted;
    a sender whose association broke sends its series again (as a PACS retries). In the end every series is in
    the output folder and at the destination exactly once and complete."""
    port, dest, _ = storescp()
    spool, out = tmp_path / "spool", tmp_path / "out"
    args = ["--model", str(tiny_model), "--direction", "mr2ct", "--port", "0", "--host", "127.0.0.1", "--out",
            str(out), "--forward", f"127.0.0.1:{port}:DEST", "--idle-timeout", "0.3", "--threads", "1"]
    series = [series_datasets(phantom / f"p00{k}" / "mr") for k in range(4)]
    delivered = [False] * len(series)
    rng = random.Random(int(os.environ.get("SCCG_KILL_SEED", "16")))

    def sender(k: int, node_port: int) -> None:
        try:
            delivered[k] = send(node_port, series[k]) == [0] * len(series[k])
        except Exception:  # noqa: BLE001 - the node died under it
            delivered[k] = False

    node = child_node(args, spool)
    for _ in range(5):
        threads = [threading.Thread(target=sender, args=(k, node.port)) for k in range(4) if not delivered[k]]
        for thread in threads:
            thread.start()
        threading.Event().wait(rng.uniform(0.1, 2.5))
        node.kill()
        for thread in threads:
            thread.join(60)
        node = child_node(args, spool)
    for k in range(4):
        if not delivered[k]:
            sender(k, node.port)
    assert all(delivered)
    records = wait_for(lambda: len(done_records(spool)) == 4 and done_records(spool), 120, "all four series")
    assert sorted(r["input_series_uid"] for r in records) == sorted(s[0].SeriesInstanceUID for s in series)
    got = dest_series(dest)
    assert sorted(got) == sorted(r["output_series_uid"] for r in records)
    assert all(len(set(sops)) == 6 for sops in got.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(got)
    assert all(len(list(p.glob("*.dcm"))) == 6 for p in out.iterdir())
