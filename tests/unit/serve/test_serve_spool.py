"""The spool on its own: durable writes, recovery after a kill, one node per spool, forgetting old series."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sccg_edge.errors import ConfigError
from sccg_edge.serve.jobs import Jobs
from sccg_edge.serve.spool import Spool, Stored

GEOMETRY = {"Rows": 4, "Columns": 4, "PixelSpacing": [1.0, 1.0], "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
            "FrameOfReferenceUID": "1.2"}


def test_store_is_durable_and_a_spool_has_one_node(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    assert spool.store("1.2.3", "1.2.3.1", b"abc", "a-1", GEOMETRY) == (Stored.STORED, "")
    assert (tmp_path / "s" / "incoming" / "1.2.3" / "1.2.3.1.dcm").read_bytes() == b"abc"
    moved = dict(GEOMETRY, Rows=5)
    result, reason = spool.store("1.2.3", "1.2.3.2", b"abc", "a-1", moved)
    assert result is Stored.INCONSISTENT and "Rows" in reason and spool.series["1.2.3"].invalid
    with pytest.raises(ConfigError, match="another sccg-edge serve node"):
        Spool(tmp_path / "s")
    spool.close()
    Spool(tmp_path / "s").close()


def test_restart_holds_series_whose_association_never_ended(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.store("1.2.3", "1.2.3.1", b"abc", "a-1", GEOMETRY)  # association a-1 still open when the node dies
    spool.store("1.2.4", "1.2.4.1", b"abc", "a-2", GEOMETRY)
    spool.association_ended("a-2", released=True)
    (tmp_path / "s" / "incoming" / "1.2.4" / ".1.2.4.2.99.tmp").write_bytes(b"half")  # a write cut short
    spool.close()
    spool = Spool(tmp_path / "s")
    verdicts = {uid: v for uid, v, _ in spool.verdicts(0.0, 3600.0, set())}
    assert verdicts == {"1.2.3": "held", "1.2.4": "convert"}
    assert not list((tmp_path / "s" / "incoming" / "1.2.4").glob(".*.tmp"))
    spool.store("1.2.3", "1.2.3.1", b"abc", "b-1", GEOMETRY)  # the sender comes back and releases normally
    spool.association_ended("b-1", released=True)
    assert {uid: v for uid, v, _ in spool.verdicts(0.0, 3600.0, set())}["1.2.3"] == "convert"
    spool.close()


def test_claimed_series_are_remembered_then_forgotten(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", remember_s=3600.0)
    spool.store("1.2.3", "1.2.3.1", b"abc", "a-1", GEOMETRY)
    spool.association_ended("a-1", released=True)
    jobs = Jobs(spool.root)
    spool.claim("1.2.3", jobs.input("1.2.3"))
    job = jobs.create("1.2.3", {"1.2.3.1"}, time.time())
    assert spool.store("1.2.3", "1.2.3.1", b"abc", "a-2", GEOMETRY)[0] is Stored.DUPLICATE
    jobs.finish(job, {"instances": job.instances})
    spool.forget(keep=set())
    assert "1.2.3" in spool.closed  # closed just now: remembered
    spool.remember_s = 0.0
    spool.forget(keep=set())
    assert "1.2.3" not in spool.closed and not (spool.root / "done" / "1.2.3.json").exists()
    assert spool.store("1.2.3", "1.2.3.1", b"abc", "a-3", GEOMETRY)[0] is Stored.STORED  # a new series now
    spool.close()


def test_recovered_jobs_keep_only_what_their_state_vouches_for(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    jobs = Jobs(spool.root)
    for uid, state in (("1.2.5", "queued"), ("1.2.6", "converted")):
        spool.store(uid, f"{uid}.1", b"abc", "a-1", GEOMETRY)
        spool.association_ended("a-1", released=True)
        spool.claim(uid, jobs.input(uid))
        job = jobs.create(uid, {f"{uid}.1"}, time.time())
        job.state = state
        jobs.save(job)
        jobs.output(uid).mkdir()
        (jobs.output(uid) / "0001.dcm").write_bytes(b"x")
        (jobs.folder(uid) / ".output.x.partial").mkdir()
    os.makedirs(jobs.folder("1.2.7"))  # a claim cut short before the input moved
    spool.close()
    recovered = {job.series_uid: job.state for job in Jobs(tmp_path / "s").recover()}
    assert recovered == {"1.2.5": "queued", "1.2.6": "converted"}
    assert sorted(p.name for p in jobs.folder("1.2.5").iterdir()) == ["input", "job.json"]
    assert sorted(p.name for p in jobs.folder("1.2.6").iterdir()) == ["input", "job.json", "output"]
    assert not jobs.folder("1.2.7").exists()
    (jobs.output("1.2.6") / "0001.dcm").unlink()  # a converted job whose output vanished is converted again
    assert {job.series_uid: job.state for job in Jobs(tmp_path / "s").recover()}["1.2.6"] == "queued"
