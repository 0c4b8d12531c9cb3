"""Claimed series: one folder per series under ``<spool>/jobs/``, and the done ledger.

::

    jobs/<series>/input/<sop>.dcm      the received instances (renamed here from incoming/ when claimed)
    jobs/<series>/job.json             state, attempts, output series, forward attempts and next try
    jobs/<series>/output/              the synthesized series, once complete (convert renames it into place)

A job is ``queued`` until its output is complete and fsync'd, then ``converted``; it is finished once it is
published and/or forwarded: ``done/<series>.json`` is written, then the job folder removed. On start-up anything
in a job folder that its state does not vouch for (a half-written output, a temporary folder) is removed, so a
series is converted again only if its conversion never completed, and its output is published or forwarded only
once complete.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sccg_edge.serve.checks import valid_uid
from sccg_edge.serve.files import read_json, write_json
from sccg_edge.utils.fs import fsync_dir


@dataclass
class Job:
    """One claimed series on its way to the output folder and/or the destination."""

    series_uid: str
    state: str = "queued"  # queued -> converted
    instances: list[str] = field(default_factory=list)
    last_received: float = 0.0
    claimed_at: float = 0.0
    convert_attempts: int = 0
    output_series_uid: str | None = None
    n_slices: int = 0
    converted_at: float | None = None
    convert_seconds: float | None = None
    published: str | None = None  # the output folder, once published
    forwarded_at: float | None = None
    forward_attempts: int = 0
    waiting: bool = False  # quick forward attempts used up: retried every forward_park seconds
    next_at: float = 0.0
    last_error: str = ""

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Job:
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Jobs:
    """Job folders and done records under a spool root (the caller serialises access per job)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, uid: str) -> Path:
        return self.root / "jobs" / uid

    def input(self, uid: str) -> Path:
        return self.folder(uid) / "input"

    def output(self, uid: str) -> Path:
        return self.folder(uid) / "output"

    def save(self, job: Job) -> None:
        write_json(self.folder(job.series_uid) / "job.json", asdict(job))

    def create(self, uid: str, instances: set[str], last_received: float) -> Job:
        job = Job(uid, instances=sorted(instances), last_received=last_received, claimed_at=time.time())
        try:
            self.save(job)
        except OSError:  # e.g. the disk is full: the next state change saves it; a restart rebuilds it from input/
            pass
        return job

    def clean(self, job: Job) -> None:
        """Remove whatever in the job folder its state does not vouch for (partial outputs, temporary files)."""
        keep = {"input", "job.json"} | ({"output"} if job.state == "converted" else set())
        for path in self.folder(job.series_uid).iterdir():
            if path.name not in keep:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    def output_files(self, job: Job) -> list[Path]:
        return sorted(self.output(job.series_uid).glob("*.dcm"))

    def finish(self, job: Job, record: dict[str, Any]) -> None:
        """Write the done record, then remove the job folder."""
        write_json(self.root / "done" / f"{job.series_uid}.json", record)
        shutil.rmtree(self.folder(job.series_uid), ignore_errors=True)
        fsync_dir(self.root / "jobs")

    def quarantine(self, job: Job, dest: Path, reason: str) -> None:
        """Move the job's received instances to ``dest`` with reason.json, then remove the job folder."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.input(job.series_uid)), dest)
        write_json(dest / "reason.json", {"series_uid": job.series_uid, "reason": reason, "at": time.time(),
                                          "instances": job.instances, "convert_attempts": job.convert_attempts})
        shutil.rmtree(self.folder(job.series_uid), ignore_errors=True)
        fsync_dir(self.root / "jobs")

    def recover(self) -> list[Job]:
        """The pending jobs after a start (or restart), each folder cleaned to what its state vouches for."""
        jobs = []
        for folder in sorted((self.root / "jobs").iterdir()):
            uid = folder.name
            done = (self.root / "done" / f"{uid}.json").exists()
            if done or not valid_uid(uid) or not (folder / "input").is_dir():
                shutil.rmtree(folder, ignore_errors=True)  # finished, or the claim never moved the input here
                continue
            obj = read_json(folder / "job.json")
            files = sorted((folder / "input").glob("*.dcm"))
            if obj is None:  # killed between the claim and the first job.json
                last = max((p.stat().st_mtime for p in files), default=time.time())
                job = Job(uid, instances=[p.stem for p in files], last_received=last, claimed_at=time.time())
            else:
                job = Job.from_dict(obj)
            if job.state != "converted" or not any(self.output(uid).glob("*.dcm")):
                job.state = "queued"
            self.clean(job)
            self.save(job)
            jobs.append(job)
        return jobs
