"""One node: spool, Storage SCP, pipeline, status file and HTTP endpoint, with a scheduler thread."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from sccg_edge.convert import load_translator
from sccg_edge.errors import ConfigError
from sccg_edge.serve.config import ServeConfig
from sccg_edge.serve.files import write_json
from sccg_edge.serve.spool import Spool
from sccg_edge.serve.status import Stats, start_http
from sccg_edge.serve.worker import Pipeline

log = logging.getLogger("sccg_edge.serve")
TICK_S = 0.2
STATUS_EVERY_S = 1.0
FORGET_EVERY_S = 600.0


class Node:
    """``start()`` returns once the node listens; ``stop()`` shuts it down and leaves pending work in the spool."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.port: int | None = None
        self.http_port: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: Any = None
        self.spool: Spool | None = None

    def start(self) -> Node:
        # pynetdicom's INFO/DEBUG output can dump data set elements; the node logs what it does itself.
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        tr = load_translator(self.cfg.convert_config())  # fail before listening if the model cannot be used
        self.model = {"label": tr.label, "backend": tr.backend, "precision": tr.precision, "size": tr.size}
        del tr
        self.spool = Spool(self.cfg.spool, self.cfg.max_spool_bytes, self.cfg.remember)
        if self.cfg.out is not None:
            self.cfg.out.mkdir(parents=True, exist_ok=True)
        self.pipeline = Pipeline(self.cfg, self.spool, self.stats)
        from sccg_edge.serve.scp import StorageSCP

        self.scp = StorageSCP(self.cfg, self.spool, self.stats)
        try:
            self.port = self.scp.start()
        except OSError as exc:
            self.spool.close()
            raise ConfigError(f"cannot listen on {self.cfg.host}:{self.cfg.port} ({exc.strerror or exc}); choose "
                              "another --port or stop what uses it") from None
        self.pipeline.start()
        if self.cfg.http is not None:
            self._http = start_http(self.cfg.http[0], self.cfg.http[1], self.status)
            self.http_port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._schedule, name="sccg-scheduler", daemon=True)
        self._thread.start()
        self._write_status()
        log.info("node %s listening on %s:%d (%s, model %s %s %s); spool %s", self.cfg.ae_title, self.cfg.host,
                 self.port, self.cfg.direction, self.model["label"], self.model["backend"],
                 self.model["precision"], self.cfg.spool)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.scp.stop()
        self.pipeline.stop()
        self._write_status(stopped=True)
        self.spool.close()  # type: ignore[union-attr]

    def run_forever(self) -> None:
        """Start, then serve until SIGTERM or SIGINT."""
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            log.info("node %s stopping; pending work stays in the spool", self.cfg.ae_title)
            self.stop()

    def _schedule(self) -> None:
        last_status = last_forget = 0.0
        while not self._stop.wait(TICK_S):
            try:
                self.pipeline.tick(self.scp.open_associations())
                if time.monotonic() - last_status >= STATUS_EVERY_S:
                    self._write_status()
                    last_status = time.monotonic()
                if time.monotonic() - last_forget >= FORGET_EVERY_S:
                    self.spool.forget(keep=set(self.pipeline.pending))  # type: ignore[union-attr]
                    last_forget = time.monotonic()
            except Exception:  # keep scheduling; the error is logged
                log.exception("scheduler error")

    def status(self) -> dict[str, Any]:
        """The node's status: identity, counters, queue, latencies (no patient data)."""
        snap = self.stats.snapshot()
        snap["counters"]["series_received"] = self.spool.series_opened if self.spool else 0
        return {"node": {"ae_title": self.cfg.ae_title, "host": self.cfg.host, "port": self.port,
                         "http_port": self.http_port, "pid": os.getpid(), "direction": self.cfg.direction,
                         "model": self.model, "out": str(self.cfg.out) if self.cfg.out else None,
                         "forward": str(self.cfg.forward) if self.cfg.forward else None,
                         "idle_timeout_s": self.cfg.idle_timeout, "spool_bytes": self.spool.used if self.spool else 0,
                         "spool_max_bytes": self.cfg.max_spool_bytes},
                "queue": self.pipeline.queue_status(), **snap, "time": time.time()}

    def _write_status(self, stopped: bool = False) -> None:
        status = self.status()
        status["node"]["running"] = not stopped
        try:
            write_json(self.cfg.spool / "status.json", status)
        except OSError as exc:  # e.g. the disk is full: the HTTP endpoint still answers
            log.warning("status.json not written: %s", exc.strerror)
