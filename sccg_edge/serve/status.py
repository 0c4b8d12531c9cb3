"""Counters, the status file and the optional HTTP endpoint (``/status`` JSON, ``/metrics`` text).

Nothing here carries a patient attribute: series are named by their UIDs, peers by AE title.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

COUNTERS = ("associations_accepted", "associations_rejected", "associations_aborted", "echoes",
            "instances_received", "instances_duplicate", "instances_late", "instances_refused",
            "series_received", "series_converted", "series_quarantined", "series_published", "series_forwarded",
            "series_done", "convert_failures", "forward_failures")


class Stats:
    """Thread-safe counters, refusal reasons and per-series latencies."""

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter({k: 0 for k in COUNTERS})
        self.refusals: Counter[str] = Counter()
        self.latency: deque[float] = deque(maxlen=keep)  # last received instance -> series published/forwarded
        self.convert_seconds: deque[float] = deque(maxlen=keep)
        self.started = time.time()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def refused(self, status: int, reason: str) -> None:
        with self._lock:
            self.counts["instances_refused"] += 1
            self.refusals[f"0x{status:04X} {reason}"] += 1

    def finished(self, latency: float, convert_seconds: float | None) -> None:
        with self._lock:
            self.counts["series_done"] += 1
            self.latency.append(latency)
            if convert_seconds is not None:
                self.convert_seconds.append(convert_seconds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self.counts), "refusals": dict(self.refusals),
                    "latency_s": _summary(self.latency), "convert_s": _summary(self.convert_seconds),
                    "uptime_s": round(time.time() - self.started, 1)}


def _summary(values: deque[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "last": None, "p50": None, "p95": None, "max": None}
    arr = np.asarray(values, dtype=float)
    return {"n": int(arr.size), "last": round(float(arr[-1]), 3), "p50": round(float(np.percentile(arr, 50)), 3),
            "p95": round(float(np.percentile(arr, 95)), 3), "max": round(float(arr.max()), 3)}


def metrics_text(status: dict[str, Any]) -> str:
    """The status as Prometheus-style text lines (``sccg_serve_<name> value``)."""
    lines = []
    for key, value in sorted(status["counters"].items()):
        lines.append(f"sccg_serve_{key}_total {value}")
    for key, value in sorted(status["queue"].items()):
        if isinstance(value, int):
            lines.append(f"sccg_serve_queue_{key} {value}")
    for key in ("p50", "p95", "max", "last"):
        value = status["latency_s"][key]
        if value is not None:
            lines.append(f'sccg_serve_series_latency_seconds{{stat="{key}"}} {value}')
    return "\n".join(lines) + "\n"


def start_http(host: str, port: int, status: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    """Serve ``GET /status`` (JSON) and ``GET /metrics`` (text) from a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/status":
                body, kind = json.dumps(status(), indent=1).encode(), "application/json"
            elif self.path.split("?")[0] == "/metrics":
                body, kind = metrics_text(status()).encode(), "text/plain; version=0.0.4"
            else:
                self.send_error(404, "try /status or /metrics")
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: no access log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sccg-http", daemon=True).start()
    return server
