"""The node's configuration: one frozen dataclass, checked once, before anything listens."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sccg_edge.config import ConvertConfig
from sccg_edge.errors import ConfigError

_AET = re.compile(r"^[\x21-\x5b\x5d-\x7e](?:[\x20-\x5b\x5d-\x7e]{0,14}[\x21-\x5b\x5d-\x7e])?$")


@dataclass(frozen=True)
class Destination:
    """Where synthesized series are sent with C-STORE."""

    host: str
    port: int
    ae_title: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}:{self.ae_title}"


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``sccg-edge serve`` needs.

    Attributes:
        model: any model spec or artifact that ``convert`` accepts (shipped name, folder, .safetensors, .onnx, .xml).
        direction: "mr2ct" (MR in, synthetic CT out) or "ct2mr".
        spool: the node's durable working folder (received instances, jobs, done records, quarantine, status).
        ae_title: this node's AE title; associations must call it.
        host, port: where the Storage SCP listens.
        out: publish each synthesized series as ``out/<output SeriesInstanceUID>/`` (or None).
        forward: send each synthesized series to this destination (or None).
        allow: calling AE titles allowed to associate (empty: any).
        workers: conversion threads.
        threads: inference threads per conversion (0 = the runtime's default).
        backend, size: passed to ``convert`` (None = its defaults).
        idle_timeout: seconds without a new instance after which a series counts as complete.
        incomplete_timeout: seconds a held (aborted or refused) series waits to be completed before quarantine.
        max_spool_bytes: refuse new instances with an out-of-resources status beyond this spool size (None: no cap).
        forward_retries: quick forward attempts (back-off 1, 2, 4 ... s, capped at ``forward_backoff_max``).
        forward_backoff_max: longest wait between quick attempts, seconds.
        forward_park: after the quick attempts, the series waits in the spool and is retried this often, seconds.
        convert_attempts: a series whose conversion fails (or kills the node) this many times is quarantined.
        remember: seconds a closed series is remembered (its re-sent instances are recognised, late ones
            quarantined) and its done record kept; after that an instance of it starts a new series.
        http: optional (host, port) of a small HTTP endpoint serving /status (JSON) and /metrics (text).
        max_associations: concurrent associations accepted.
    """

    model: str
    direction: str
    spool: Path
    ae_title: str = "SCCG"
    host: str = "0.0.0.0"
    port: int = 11112
    out: Path | None = None
    forward: Destination | None = None
    allow: tuple[str, ...] = ()
    workers: int = 1
    threads: int = 0
    backend: str | None = None
    size: int | None = None
    idle_timeout: float = 10.0
    incomplete_timeout: float = 6 * 3600.0
    max_spool_bytes: int | None = None
    forward_retries: int = 5
    forward_backoff_max: float = 60.0
    forward_park: float = 300.0
    convert_attempts: int = 3
    remember: float = 7 * 86400.0
    http: tuple[str, int] | None = None
    max_associations: int = 16

    def convert_config(self) -> ConvertConfig:
        """What each series is converted with (the ``convert`` stage's config)."""
        return ConvertConfig(model=self.model, direction=self.direction, backend=self.backend, size=self.size,
                             threads=self.threads)

    def __post_init__(self) -> None:
        if self.direction not in ("mr2ct", "ct2mr"):
            raise ConfigError(f"unknown --direction '{self.direction}'; use mr2ct (MR in, synthetic CT out) or ct2mr")
        check_ae_title(self.ae_title, "--ae-title")
        for aet in self.allow:
            check_ae_title(aet, "--allow")
        if self.out is None and self.forward is None:
            raise ConfigError("give --out DIR and/or --forward HOST:PORT:AET: the node needs somewhere to put "
                              "the synthesized series")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port} is not a TCP port (0-65535)")
        if self.workers < 1 or self.idle_timeout <= 0 or self.forward_retries < 1 or self.convert_attempts < 1:
            raise ConfigError("--workers, --idle-timeout, --forward-retries and --convert-attempts must be positive")
        if self.remember <= 0:
            raise ConfigError("--remember-days must be positive")
        if self.max_spool_bytes is not None and self.max_spool_bytes <= 0:
            raise ConfigError("--max-spool-bytes must be positive")
        if self.out is not None and _inside(Path(self.out), Path(self.spool)):
            raise ConfigError(f"--out {self.out} lies inside the spool {self.spool}; give a folder outside it")

    @property
    def input_modality(self) -> str:
        """The modality this node takes in."""
        return "MR" if self.direction == "mr2ct" else "CT"


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


def check_ae_title(value: str, flag: str) -> str:
    """An AE title: 1-16 printable ASCII characters, no backslash, not only spaces."""
    if not _AET.match(value or ""):
        raise ConfigError(f"{flag} '{value}' is not a valid AE title: use 1-16 printable ASCII characters "
                          "without backslash or leading/trailing spaces (e.g. SCCG)")
    return value


def parse_forward(spec: str | None) -> Destination | None:
    """``HOST:PORT:AET`` -> :class:`Destination` (None passes through)."""
    if spec is None:
        return None
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
        raise ConfigError(f"--forward '{spec}' is not HOST:PORT:AET (e.g. pacs.local:104:PACS)")
    return Destination(parts[0], int(parts[1]), check_ae_title(parts[2], "--forward AE title"))


def parse_allow(spec: str | None) -> tuple[str, ...]:
    """``AET,AET`` -> a tuple of AE titles (empty when None or blank)."""
    if not spec:
        return ()
    return tuple(check_ae_title(a.strip(), "--allow") for a in spec.split(",") if a.strip())


def default_spool(ae_title: str) -> Path:
    """``$XDG_STATE_HOME/sccg-edge/spool/<AET>`` (``~/.local/state/...`` by default)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "sccg-edge" / "spool" / re.sub(r"[^A-Za-z0-9_.-]", "_", ae_title)
