"""Close idle series, convert each exactly once with ``convert``'s public verb, publish and forward the result.

Three kinds of threads share one :class:`Pipeline`: the scheduler (:meth:`Pipeline.tick`, a few times a second)
closes idle series and hands due jobs out; ``workers`` conversion threads run :func:`sccg_edge.convert.convert_path`
on a claimed series; one delivery thread publishes to ``out`` and sends to the destination, retrying with back-off.
A job is handed to one thread at a time (``_busy``), and every state change is written to its job.json first.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from pathlib import Path

from sccg_edge.convert import convert_path
from sccg_edge.errors import SccgError
from sccg_edge.serve.config import ServeConfig
from sccg_edge.serve.files import is_no_space
from sccg_edge.serve.forward import send_series
from sccg_edge.serve.jobs import Job, Jobs
from sccg_edge.serve.spool import Spool
from sccg_edge.serve.status import Stats
from sccg_edge.utils.fs import atomic_dir, fsync_dir, fsync_tree

log = logging.getLogger("sccg_edge.serve")
NO_SPACE_RETRY_S = 15.0


class Pipeline:
    """The node's work after receiving: claim, convert, publish, forward, finish."""

    def __init__(self, cfg: ServeConfig, spool: Spool, stats: Stats) -> None:
        self.cfg, self.spool, self.stats = cfg, spool, stats
        self.jobs = Jobs(spool.root)
        self.pending: dict[str, Job] = {job.series_uid: job for job in self.jobs.recover()}
        self.held: dict[str, str] = {}  # receiving series waiting for a re-send -> why
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._convert_q: queue.Queue[str | None] = queue.Queue()
        self._deliver_q: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        for job in self.pending.values():
            log.info("resuming series %s (%s)", job.series_uid, job.state)

    def start(self) -> None:
        for k in range(self.cfg.workers):
            self._threads.append(threading.Thread(target=self._loop, args=(self._convert_q, self._convert),
                                                  name=f"sccg-convert-{k}", daemon=True))
        self._threads.append(threading.Thread(target=self._loop, args=(self._deliver_q, self._deliver),
                                              name="sccg-deliver", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let the threads finish the job in hand, then stop them; what is left stays in the spool."""
        for _ in range(self.cfg.workers):
            self._convert_q.put(None)
        self._deliver_q.put(None)
        for thread in self._threads:
            thread.join(timeout)

    # ------------------------------------------------------------------------------------------------ scheduling

    def tick(self, open_assocs: set[str]) -> None:
        """Close idle series (claim or quarantine) and hand out the jobs that are due."""
        held = {}
        for uid, verdict, reason in self.spool.verdicts(self.cfg.idle_timeout, self.cfg.incomplete_timeout,
                                                         open_assocs):
            if verdict == "convert":
                self._claim(uid)
            elif verdict == "quarantine":
                dest = self.spool.quarantine_incoming(uid, reason)
                self.stats.add("series_quarantined")
                log.warning("series %s quarantined in %s: %s", uid, dest.name, reason)
            else:
                held[uid] = reason
                if uid not in self.held:
                    log.warning("series %s held: %s", uid, reason)
        self.held = held
        now = time.time()
        with self._lock:
            due = [job for uid, job in self.pending.items() if uid not in self._busy and job.next_at <= now]
            for job in due:
                self._busy.add(job.series_uid)
        for job in due:
            (self._convert_q if job.state == "queued" else self._deliver_q).put(job.series_uid)

    def _claim(self, uid: str) -> None:
        st = self.spool.claim(uid, self.jobs.input(uid))
        job = self.jobs.create(uid, st.sops, st.last_received)
        with self._lock:
            self.pending[uid] = job
        log.info("series %s complete: %d instance(s), queued for conversion", uid, len(st.sops))

    def _loop(self, q: queue.Queue[str | None], step: object) -> None:
        while (uid := q.get()) is not None:
            try:
                step(self.pending[uid])  # type: ignore[operator]
            except Exception:  # a bug: keep serving, retry later, and say so
                log.exception("series %s: unexpected error; retrying later", uid)
                if uid in self.pending:
                    self.pending[uid].next_at = time.time() + self.cfg.forward_park
            finally:
                with self._lock:
                    self._busy.discard(uid)

    # ------------------------------------------------------------------------------------------------ steps

    def _convert(self, job: Job) -> None:
        uid = job.series_uid
        if job.convert_attempts >= self.cfg.convert_attempts:
            self._quarantine(job, f"conversion did not complete in {job.convert_attempts} attempt(s) "
                                  f"(last error: {job.last_error or 'the node stopped during it'})")
            return
        job.convert_attempts += 1
        self.jobs.clean(job)
        self.jobs.save(job)
        start = time.time()
        try:
            summary = convert_path(self.jobs.input(uid), self.jobs.output(uid), self.cfg.convert_config(),
                                   progress=False)
            fsync_tree(self.jobs.output(uid))
            fsync_dir(self.jobs.folder(uid))
        except SccgError as err:
            self._quarantine(job, f"not convertible: {err}")
            return
        except OSError as exc:
            if not is_no_space(exc):
                raise
            job.convert_attempts -= 1  # not the series' fault
            self._retry(job, "disk full during conversion", NO_SPACE_RETRY_S)
            return
        row = summary["series"][0]
        job.state, job.output_series_uid, job.n_slices = "converted", row["output_series_uid"], row["n_slices"]
        job.converted_at, job.convert_seconds, job.last_error, job.next_at = time.time(), time.time() - start, "", 0.0
        self.jobs.save(job)
        self.spool.refresh_usage()
        self.stats.add("series_converted")
        log.info("series %s converted to %s: %d slice(s) in %.1f s", uid, job.output_series_uid, job.n_slices,
                 job.convert_seconds)
        self._deliver(job)

    def _deliver(self, job: Job) -> None:
        if self.cfg.out is not None and job.published is None:
            try:
                job.published = str(self._publish(job))
            except OSError as exc:
                if not is_no_space(exc):
                    raise
                self._retry(job, f"the output folder's disk is full ({self.cfg.out})", NO_SPACE_RETRY_S)
                return
            self.jobs.save(job)
            self.stats.add("series_published")
        if self.cfg.forward is not None and job.forwarded_at is None:
            error = send_series(self.cfg.forward, self.jobs.output_files(job), self.cfg.ae_title)
            if error is not None:
                self._forward_failed(job, error)
                return
            job.forwarded_at = time.time()
            self.jobs.save(job)
            self.stats.add("series_forwarded")
            log.info("series %s forwarded to %s", job.output_series_uid, self.cfg.forward)
        self._finish(job)

    def _publish(self, job: Job) -> Path:
        """Copy the output into ``out/<output series uid>/``: temporary folder, fsync, rename."""
        out = Path(self.cfg.out) / str(job.output_series_uid)  # type: ignore[arg-type]
        if out.exists():  # published before a kill: the rename happened after the fsync, so it is complete
            return out
        for stale in out.parent.glob(f".{out.name}.*.partial"):
            shutil.rmtree(stale, ignore_errors=True)
        with atomic_dir(out) as tmp:
            for path in self.jobs.output_files(job):
                shutil.copyfile(path, tmp / path.name)
            fsync_tree(tmp)
        fsync_dir(out.parent)
        log.info("series %s published to %s", job.output_series_uid, out)
        return out

    def _forward_failed(self, job: Job, error: str) -> None:
        job.forward_attempts += 1
        self.stats.add("forward_failures")
        if job.forward_attempts < self.cfg.forward_retries:
            wait = min(self.cfg.forward_backoff_max, 2.0 ** (job.forward_attempts - 1))
        else:
            wait, job.waiting = self.cfg.forward_park, True
        log.warning("series %s: forward attempt %d failed (%s); %s in %.0f s", job.output_series_uid,
                    job.forward_attempts, error, "waiting in the spool, next try" if job.waiting else "retrying",
                    wait)
        self._retry(job, error, wait)

    def _retry(self, job: Job, error: str, wait: float) -> None:
        job.last_error, job.next_at = error, time.time() + wait
        self.jobs.save(job)

    def _finish(self, job: Job) -> None:
        now = time.time()
        latency = now - job.last_received
        record = {"input_series_uid": job.series_uid, "output_series_uid": job.output_series_uid,
                  "n_slices": job.n_slices, "instances": job.instances, "last_received": job.last_received,
                  "converted_at": job.converted_at, "convert_s": job.convert_seconds, "published": job.published,
                  "forwarded_at": job.forwarded_at, "forward_attempts": job.forward_attempts, "done_at": now,
                  "latency_s": latency, "idle_timeout_s": self.cfg.idle_timeout}
        self.jobs.finish(job, record)
        with self._lock:
            self.pending.pop(job.series_uid, None)
        self.spool.refresh_usage()
        self.stats.finished(latency, job.convert_seconds)

    def _quarantine(self, job: Job, reason: str) -> None:
        dest = self.spool.quarantine_dir(job.series_uid)
        self.jobs.quarantine(job, dest, reason)
        with self._lock:
            self.pending.pop(job.series_uid, None)
        self.stats.add("series_quarantined")
        log.warning("series %s quarantined in %s: %s", job.series_uid, dest.name, reason)

    # ------------------------------------------------------------------------------------------------ status

    def queue_status(self) -> dict[str, object]:
        with self._lock:
            jobs = list(self.pending.values())
            busy = set(self._busy)
        held = self.held
        receiving = [uid for uid in list(self.spool.series) if uid not in held]
        waiting = [{"series_uid": j.series_uid, "output_series_uid": j.output_series_uid,
                    "forward_attempts": j.forward_attempts, "last_error": j.last_error,
                    "next_try_in_s": round(max(0.0, j.next_at - time.time()), 1), "waiting": j.waiting}
                   for j in jobs if j.state == "converted" and j.last_error]
        return {"receiving": len(receiving), "held": len(held),
                "to_convert": sum(j.state == "queued" for j in jobs),
                "converting": sum(j.state == "queued" and j.series_uid in busy for j in jobs),
                "to_deliver": sum(j.state == "converted" for j in jobs),
                "forward_waiting": sum(j.waiting for j in jobs),
                "held_series": dict(held), "delivery_failing": waiting}
