"""The spool: received instances, grouped by series, written durably before the sender is told "success".

Layout under the spool root (every name is a DICOM UID, never a patient attribute)::

    node.lock                          held (flock) by the running node: one node per spool
    incoming/<series>/<sop>.dcm        received instances, each fsync'd and renamed into place
    incoming/<series>/.series.json     reference geometry, associations still open, refusals
    jobs/<series>/...                  claimed series (see :mod:`sccg_edge.serve.jobs`)
    done/<series>.json                 one record per converted series (exactly-once ledger)
    quarantine/<series>[-late]/        series or late instances that were not converted, with reason.json
    status.json                        counters and queue, rewritten every second

A series is *due* when no instance arrived for ``idle_timeout`` seconds and every association that sent to it
ended with a normal release. A series touched by an aborted association, or one with an instance refused for lack
of space, is *held* until the missing instances arrive (a re-send), and quarantined after ``incomplete_timeout``.
A series with an instance refused as invalid (inconsistent geometry, no pixels) is quarantined when idle.
"""

from __future__ import annotations

import enum
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sccg_edge.serve.checks import geometry_diff, valid_uid
from sccg_edge.serve.files import is_no_space, lock_spool, read_json, tree_bytes, write_instance, write_json
from sccg_edge.utils.fs import fsync_dir

META = ".series.json"


class Stored(enum.Enum):
    """What happened to one received instance."""

    STORED = "stored"  # written durably into its series
    DUPLICATE = "duplicate"  # its series was already claimed and already holds this instance: nothing to do
    LATE = "late"  # new instance of an already claimed series: kept in quarantine, not converted
    NO_SPACE = "no_space"  # refused: spool budget or disk full
    INCONSISTENT = "inconsistent"  # refused: geometry differs from the series; the series will be quarantined


@dataclass
class SeriesState:
    """One series still receiving (incoming/<uid>)."""

    uid: str
    geometry: dict[str, Any] | None = None
    sops: set[str] = field(default_factory=set)
    first_received: float = 0.0
    last_received: float = 0.0
    pending: set[str] = field(default_factory=set)  # associations that sent to it and have not ended
    aborted: bool = False
    space_refused: set[str] = field(default_factory=set)
    invalid: str | None = None
    on_disk: bool = False  # its folder and metadata exist

    def meta(self) -> dict[str, Any]:
        return {"series_uid": self.uid, "geometry": self.geometry, "first_received": self.first_received,
                "pending": sorted(self.pending), "aborted": self.aborted, "space_refused": sorted(self.space_refused),
                "invalid": self.invalid}


class Spool:
    """The node's durable state; every public method is thread-safe."""

    def __init__(self, root: Path, max_bytes: int | None = None, remember_s: float = 7 * 86400.0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.remember_s = remember_s
        for sub in ("incoming", "jobs", "done", "quarantine"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_spool(self.root / "node.lock")
        self._lock = threading.RLock()
        self._series_locks: dict[str, threading.Lock] = {}
        self.series: dict[str, SeriesState] = {}
        self.closed: dict[str, set[str]] = {}  # claimed, done or quarantined series -> their instances
        self._closed_at: dict[str, float] = {}
        self.series_opened = 0
        self._recover_incoming()
        self._load_closed()
        self.used = tree_bytes(self.root)

    def close(self) -> None:
        """Release the spool lock."""
        os.close(self._lock_fd)

    # ------------------------------------------------------------------------------------------------ receiving

    def incoming(self, uid: str) -> Path:
        return self.root / "incoming" / uid

    def _series_lock(self, uid: str) -> threading.Lock:
        with self._lock:
            return self._series_locks.setdefault(uid, threading.Lock())

    def store(self, series_uid: str, sop_uid: str, data: bytes, assoc: str, geometry: dict[str, Any]
              ) -> tuple[Stored, str]:
        """Write one instance durably into its series; returns what happened and a short reason.

        The association is recorded in the series' metadata before its first instance is written, so a node
        killed mid-association finds the series held (not complete) when it restarts.
        """
        with self._series_lock(series_uid):
            if series_uid in self.closed:
                return self._late(series_uid, sop_uid, data)
            st = self.series.get(series_uid) or self._open(series_uid, geometry)
            diff = geometry_diff(st.geometry, geometry) if st.geometry is not None else None
            if diff is not None:
                reason = f"{diff} differs from the series' first instance"
                self._taint(series_uid, f"instance {sop_uid}: {reason}")
                return Stored.INCONSISTENT, reason
            st.geometry = st.geometry or geometry
            if self.max_bytes is not None and self.used + len(data) > self.max_bytes:
                self._refuse_space(st, sop_uid)
                return Stored.NO_SPACE, f"spool budget of {self.max_bytes} bytes is used up"
            try:
                if assoc not in st.pending or not st.on_disk:
                    st.pending.add(assoc)
                    self._persist(st)
                write_instance(self.incoming(series_uid), sop_uid, data)
            except OSError as exc:
                if not is_no_space(exc):
                    raise
                self._refuse_space(st, sop_uid)
                return Stored.NO_SPACE, "the spool's disk is full"
            with self._lock:
                self.used += len(data)
            st.sops.add(sop_uid)
            st.last_received = time.time()
            if sop_uid in st.space_refused:
                st.space_refused.discard(sop_uid)
                self._save_meta(st)
            return Stored.STORED, ""

    def _open(self, uid: str, geometry: dict[str, Any] | None) -> SeriesState:
        """A new receiving series, in memory (:meth:`_persist` puts it on disk)."""
        now = time.time()
        st = SeriesState(uid, geometry=geometry, first_received=now, last_received=now)
        with self._lock:
            self.series[uid] = st
            self.series_opened += 1
        return st

    def _persist(self, st: SeriesState) -> None:
        """Create the series folder if needed and write its metadata (raises OSError, e.g. when the disk is full)."""
        folder = self.incoming(st.uid)
        if not folder.is_dir():
            folder.mkdir()
            fsync_dir(folder.parent)
        write_json(folder / META, st.meta())
        st.on_disk = True

    def _save_meta(self, st: SeriesState) -> None:
        """Best effort: when the disk is full the in-memory state still holds it, and a later save writes it."""
        try:
            self._persist(st)
        except OSError:
            pass

    def _refuse_space(self, st: SeriesState, sop: str) -> None:
        st.space_refused.add(sop)
        st.last_received = time.time()
        self._save_meta(st)

    def taint(self, uid: str, reason: str) -> None:
        """Mark a receiving series as invalid: it will be quarantined with ``reason`` instead of converted."""
        if valid_uid(uid):
            with self._series_lock(uid):
                self._taint(uid, reason)

    def _taint(self, uid: str, reason: str) -> None:
        if uid in self.closed:
            return
        st = self.series.get(uid) or self._open(uid, None)
        if st.invalid is None:
            st.invalid = reason
            st.last_received = time.time()
            self._save_meta(st)

    def _late(self, uid: str, sop: str, data: bytes) -> tuple[Stored, str]:
        if sop in self.closed[uid]:
            return Stored.DUPLICATE, ""
        folder = self.root / "quarantine" / f"{uid}-late"
        try:
            folder.mkdir(exist_ok=True)
            write_instance(folder, sop, data)
            write_json(folder / "reason.json", {
                "series_uid": uid, "reason": "instances that arrived after the series was closed (idle timeout "
                "passed and it was converted or quarantined); they were not converted",
                "instances": sorted(p.stem for p in folder.glob("*.dcm"))})
        except OSError as exc:
            if is_no_space(exc):
                return Stored.NO_SPACE, "the spool's disk is full"
            raise
        self.closed[uid].add(sop)
        self._closed_at[uid] = time.time()
        return Stored.LATE, "series already closed; instance quarantined"

    def association_ended(self, assoc: str, released: bool) -> None:
        """An association ended: a normal release clears the series it sent to, anything else holds them."""
        with self._lock:
            touched = [st for st in self.series.values() if assoc in st.pending]
        for st in touched:
            with self._series_lock(st.uid):
                st.pending.discard(assoc)
                st.aborted = not released  # a normal release after an abort means the sender came back
                self._save_meta(st)

    # ------------------------------------------------------------------------------------------------ closing

    def verdicts(self, idle_timeout: float, incomplete_timeout: float, open_assocs: set[str]
                 ) -> list[tuple[str, str, str]]:
        """(series, "convert" | "quarantine" | "held", reason) for every receiving series that is idle."""
        now = time.time()
        out = []
        with self._lock:
            states = list(self.series.values())
        for st in states:
            if st.pending & open_assocs or now - st.last_received < idle_timeout:
                continue
            if st.invalid:
                out.append((st.uid, "quarantine", st.invalid))
            elif st.aborted or st.space_refused or st.pending:
                why = (f"{len(st.space_refused)} instance(s) refused for lack of space" if st.space_refused
                       else "an association that sent to it was aborted")
                if now - st.last_received >= incomplete_timeout:
                    why = f"incomplete: {why}, and not re-sent within {incomplete_timeout:g} s"
                    out.append((st.uid, "quarantine", why))
                else:
                    out.append((st.uid, "held", f"waiting for a re-send: {why}"))
            elif not st.sops:
                out.append((st.uid, "quarantine", "no instance was stored"))
            else:
                out.append((st.uid, "convert", ""))
        return out

    def claim(self, uid: str, dest: Path) -> SeriesState:
        """Close a receiving series and move its folder to ``dest`` (atomic rename); later instances are late."""
        with self._series_lock(uid):
            st = self.series[uid]
            dest.parent.mkdir(parents=True, exist_ok=True)
            if self.incoming(uid).is_dir():
                os.replace(self.incoming(uid), dest)
            else:  # nothing of it ever reached the disk (refused for lack of space, or invalid)
                dest.mkdir()
            fsync_dir(dest.parent)
            fsync_dir(self.incoming(uid).parent)
            with self._lock:
                self.closed[uid] = set(st.sops)
                self._closed_at[uid] = time.time()
                del self.series[uid]
            return st

    def quarantine_incoming(self, uid: str, reason: str) -> Path:
        """Close a receiving series into quarantine/<uid>/ with reason.json."""
        dest = self.quarantine_dir(uid)
        st = self.claim(uid, dest)
        write_json(dest / "reason.json", {"series_uid": uid, "reason": reason, "at": time.time(),
                                          "instances": sorted(st.sops)})
        return dest

    def quarantine_dir(self, uid: str) -> Path:
        dest, k = self.root / "quarantine" / uid, 1
        while dest.exists():
            k += 1
            dest = self.root / "quarantine" / f"{uid}-{k}"
        return dest

    def refresh_usage(self) -> None:
        """Re-measure the spool's size (after folders were removed)."""
        used = tree_bytes(self.root)
        with self._lock:
            self.used = used

    # ------------------------------------------------------------------------------------------------ recovery

    def _recover_incoming(self) -> None:
        for folder in sorted((self.root / "incoming").iterdir()):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
            sops = {p.stem for p in folder.glob("*.dcm")}
            meta = read_json(folder / META)
            if not valid_uid(folder.name) or (meta is None and not sops):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            meta = meta or {}
            last = max((p.stat().st_mtime for p in folder.glob("*.dcm")), default=time.time())
            pending = set(meta.get("pending") or [])
            self.series[folder.name] = SeriesState(
                folder.name, geometry=meta.get("geometry"), sops=sops,
                first_received=float(meta.get("first_received") or last), last_received=last, on_disk=True,
                aborted=bool(meta.get("aborted")) or bool(pending) or not meta,
                space_refused=set(meta.get("space_refused") or []) - sops, invalid=meta.get("invalid"))

    def forget(self, keep: set[str]) -> None:
        """Forget series closed more than ``remember_s`` ago (except ``keep``, the pending jobs) and delete their
        done records: an instance of such a series arriving later starts a new series."""
        horizon = time.time() - self.remember_s
        with self._lock:
            old = [uid for uid, at in self._closed_at.items() if at < horizon and uid not in keep]
            for uid in old:
                self.closed.pop(uid, None)
                self._closed_at.pop(uid, None)
                if uid not in self.series:
                    self._series_locks.pop(uid, None)
        for uid in old:
            (self.root / "done" / f"{uid}.json").unlink(missing_ok=True)

    def _load_closed(self) -> None:
        horizon = time.time() - self.remember_s
        for rec in (self.root / "done").glob("*.json"):
            obj, at = read_json(rec), rec.stat().st_mtime
            if at < horizon:
                rec.unlink(missing_ok=True)
            elif obj is not None:
                self.closed[rec.stem] = set(obj.get("instances") or [])
                self._closed_at[rec.stem] = at
        for folder in (self.root / "jobs").iterdir():
            self.closed.setdefault(folder.name, set()).update(p.stem for p in (folder / "input").glob("*.dcm"))
            self._closed_at[folder.name] = time.time()
        for folder in (self.root / "quarantine").iterdir():
            uid = folder.name.split("-")[0]
            if valid_uid(uid) and folder.is_dir():
                self.closed.setdefault(uid, set()).update(p.stem for p in folder.glob("*.dcm"))
                self._closed_at.setdefault(uid, folder.stat().st_mtime)
